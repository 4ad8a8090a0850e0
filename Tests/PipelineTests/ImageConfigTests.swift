import Foundation
import Testing
import OCI
import TestSupport
@testable import Pipeline
import Provisioners

@Suite struct ImageConfigTests {
    @Test func configIsInheritedKeyByKey() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": """
                from: scratch
                config:
                  env: {PATH: /bin, LANG: C.UTF-8, DROP: me}
                  labels: {team: web, tier: base}
                  user: nobody
                  workdir: /
                  entrypoint: [/bin/sh, -c]
                  cmd: [echo base]
                  ports: [80]
                  stopSignal: SIGQUIT

                """,
            "images/app/stage.yaml": """
                from: base
                config:
                  env: {ZED: z, LANG: en_US.UTF-8, DROP: null, ALPHA: a}
                  labels: {tier: app, team: null}
                  workdir: /srv/app

                """,
            "images/leaf/stage.yaml": "from: app\nconfig:\n  entrypoint: [/usr/local/bin/boot]\n",
        ])
        let images = try fixture.build(["leaf"])
        let app = try #require(images.first { $0.name == "app" }?.config.config)
        // Parent's variables keep their place, changed in place; new ones follow, sorted.
        #expect(app.env == ["LANG=en_US.UTF-8", "PATH=/bin", "ALPHA=a", "ZED=z"])
        // The stage's labels, over the metadata labels bake sets on every image.
        #expect(app.labels?.filter { !$0.key.hasPrefix("org.opencontainers.image.") } == ["tier": "app"])
        #expect(app.labels?["org.opencontainers.image.base.name"] == "base")
        #expect(app.labels?["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z")
        #expect(app.user == "nobody")
        #expect(app.workingDir == "/srv/app")
        #expect(app.entrypoint == ["/bin/sh", "-c"])
        #expect(app.cmd == ["echo base"])
        #expect(app.exposedPorts == ["80/tcp": EmptyObject()])
        #expect(app.stopSignal == "SIGQUIT")
        // A new entrypoint drops the inherited cmd, written for the old one.
        let leaf = try #require(images.first { $0.name == "leaf" }?.config.config)
        #expect(leaf.entrypoint == ["/usr/local/bin/boot"])
        #expect(leaf.cmd == nil)
    }

    @Test func keyOrderAndFormattingInTheStageFileChangeNothing() throws {
        let first = try ProjectFixture(["images/a/stage.yaml": "from: scratch\nconfig:\n  env: {B: '2', A: '1'}\n  labels: {y: '1', x: '2'}\n"])
        let second = try ProjectFixture(["images/a/stage.yaml": """
            # a comment, other spacing and order
            description: display only
            config:
              labels:
                x: "2"
                y: "1"
              env:
                A: 1
                B: 2
            from: scratch

            """])
        #expect(try first.build()[0].manifestDescriptor.digest == second.build()[0].manifestDescriptor.digest)
    }

    @Test func theParentIsRecordedAndTheTimeIsInherited() throws {
        let fixture = try ProjectFixture(["images/base/stage.yaml": "from: scratch\n", "images/app/stage.yaml": "from: base\n"])
        let images = try fixture.build()
        let base = try #require(images.first { $0.name == "base" })
        let app = try #require(images.first { $0.name == "app" })
        #expect(base.config.created == "1970-01-01T00:00:00Z")
        #expect(app.parent == ParentImage(name: "base", digest: base.manifestDescriptor.digest))
        #expect(app.manifest.annotations?[AnnotationKey.baseDigest] == base.manifestDescriptor.digest.description)
        #expect(app.config.created == base.config.created)
        #expect(app.config.architecture == base.config.architecture)
    }
}

@Suite struct BuildTimeTests {
    @Test func readsSourceDateEpoch() throws {
        #expect(try BuildTime.sourceDateEpoch(from: [:]) == nil)
        #expect(try BuildTime.sourceDateEpoch(from: ["SOURCE_DATE_EPOCH": "1700000000"]) == 1_700_000_000)
        #expect(try BuildTime.sourceDateEpoch(from: ["SOURCE_DATE_EPOCH": "0"]) == 0)
    }

    @Test(arguments: ["", "abc", "1.5", "-1", " 12", "12 ", "99999999999999999999", "253402300800"])
    func rejectsMalformedValues(_ value: String) {
        #expect {
            _ = try BuildTime.sourceDateEpoch(from: ["SOURCE_DATE_EPOCH": value])
        } throws: { error in
            (error as? PipelineError)?.isBadInput == true && "\(error)".hasPrefix("SOURCE_DATE_EPOCH='\(value)' is not a whole number")
        }
    }

    @Test func theEpochChangesTheImageAndNothingElseDoes() throws {
        let fixture = try ProjectFixture(["images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: f\n    to: /f\n", "images/a/f": "x"])
        let zero = try fixture.build()[0].manifestDescriptor.digest
        let again = try fixture.build()[0].manifestDescriptor.digest
        let later = try fixture.build(epoch: 1_700_000_000)[0].manifestDescriptor.digest
        #expect(zero == again)
        #expect(zero != later)
    }
}

@Suite struct BuildOrderTests {
    @Test func parentsComeFirstAndUnrelatedImagesAreLeftOut() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\n",
            "images/app-base/stage.yaml": "from: base\n",
            "images/app/stage.yaml": "from: app-base\n",
            "images/tools/stage.yaml": "from: base\n",
            "images/other/stage.yaml": "from: scratch\n",
        ])
        let project = try fixture.load()
        #expect(try project.buildOrder(for: ["app"]) == ["base", "app-base", "app"])
        #expect(try project.buildOrder(for: ["tools", "app"]) == ["base", "app-base", "app", "tools"])
        #expect(try project.buildOrder(for: []) == ["base", "app-base", "app", "other", "tools"])
        #expect(project.children(of: "base") == ["app-base", "tools"])
        #expect {
            _ = try project.buildOrder(for: ["ap"])
        } throws: { error in
            (error as? PipelineError)?.isBadInput == true && "\(error)".hasSuffix("/images; did you mean 'app'?")
        }
    }
}
