import Testing
@testable import Pipeline

@Suite struct TagTemplateTests {
    @Test func sequenceIsOneMoreThanTheHighestTagOfTheTemplatesShape() {
        #expect(TagTemplate.nextSequence([], template: "{seq}") == 1)
        #expect(TagTemplate.nextSequence(["latest", "v2", "3", "12", "abc1", "007"], template: "{seq}") == 13)
        #expect(TagTemplate.nextSequence(["99999999999999999999999"], template: "{seq}") == 1)
        // build-{seq} counts its own tags, not the all-digit ones or other prefixes.
        let tags = ["7", "build-41", "build-9", "build-", "build-x1", "rebuild-99", "build-50-rc"]
        #expect(TagTemplate.nextSequence(tags, template: "build-{seq}") == 42)
        #expect(TagTemplate.nextSequence(["v1.0.3", "v1.0.12"], template: "v1.0.{seq}") == 13)
        #expect(TagTemplate.nextSequence(tags, template: "latest") == nil)
    }

    @Test func templatesExpand() throws {
        let revision = "0123456789abcdef0123456789abcdef01234567"
        #expect(try TagTemplate.expand("{git.sha}", revision: revision, sequence: nil, image: "app") == revision)
        #expect(try TagTemplate.expand("build-{seq}-{git.short}", revision: revision, sequence: 454, image: "app") == "build-454-0123456")
        #expect(try TagTemplate.expand("latest", revision: nil, sequence: 1, image: "app") == "latest")
        #expect(throws: PipelineError.self) { try TagTemplate.expand("{git.sha}", revision: nil, sequence: 1, image: "app") }
    }

    @Test(arguments: ["{build}", "{seq", "-x", "a b", String(repeating: "a", count: 129)])
    func badTemplatesAreRefusedBeforeAnyRequest(_ template: String) {
        #expect(throws: PipelineError.self) { try TagTemplate.validate(template) }
    }
}
