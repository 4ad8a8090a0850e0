import Diagnostics
import Testing

@Suite struct ErrorWithContextTests {
    enum Sample: BakeError {
        case wrongInput, broken
        var exitStatus: BakeExitStatus { self == .wrongInput ? .badInput : .failure }
        var description: String { self == .wrongInput ? "the input is wrong" : "it broke" }
    }

    struct Foreign: Error {}

    @Test func contextGoesInFrontAndTheCauseIsKept() throws {
        let error = ErrorWithContext("images/app/stage.yaml:3:5: step 1 of app", cause: Sample.wrongInput)
        #expect(error.description == "images/app/stage.yaml:3:5: step 1 of app: the input is wrong")
        #expect(error.cause as? Sample == .wrongInput)
        #expect(error.rootCause as? Sample == .wrongInput)
    }

    @Test func theExitStatusIsTheCausesThroughAnyDepth() {
        let inner = ErrorWithContext("reading", cause: Sample.wrongInput)
        let outer = ErrorWithContext("building app", cause: inner)
        #expect(BakeExitStatus(for: outer) == .badInput)
        #expect(BakeExitStatus(for: ErrorWithContext("x", cause: Sample.broken)) == .failure)
        #expect(outer.causes.count == 3)
        #expect(outer.has(Sample.self) { $0 == .wrongInput })
        #expect(!outer.has(Sample.self) { $0 == .broken })
    }

    @Test func aContextMayOverrideTheExitStatus() {
        let error = ErrorWithContext("the tarball you named", cause: Sample.broken, exitStatus: .badInput)
        #expect(error.exitStatus == .badInput)
    }

    @Test func anErrorThatIsNotBakesIsAFailure() {
        #expect(BakeExitStatus(for: Foreign()) == .failure)
        #expect(BakeExitStatus(for: ErrorWithContext("x", cause: Foreign())) == .failure)
    }

    @Test func withContextWrapsOnlyWhenTheBodyThrows() throws {
        #expect(try withContext("never shown") { 42 } == 42)
        #expect {
            try withContext("pushing app") { throw Sample.broken }
        } throws: { error in
            "\(error)" == "pushing app: it broke" && BakeExitStatus(for: error) == .failure
        }
    }
}
