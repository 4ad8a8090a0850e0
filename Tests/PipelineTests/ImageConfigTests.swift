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

    @Test func healthcheckAndVolumesAreWrittenAsDockerReadsThemAndInherited() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": """
                from: scratch
                config:
                  healthcheck:
                    test: curl -f http://localhost:8080/ || exit 1
                    interval: 1m30s
                    timeout: 500ms
                    startPeriod: 1.5s
                    retries: 5
                  volumes: [/var/lib/app, /data]

                """,
            "images/app/stage.yaml": "from: base\n",
            "images/off/stage.yaml": "from: base\nconfig:\n  healthcheck: {test: [NONE]}\n  volumes: []\n",
            "images/cmd/stage.yaml": "from: base\nconfig:\n  healthcheck: {test: [CMD, /bin/check, --fast]}\n",
        ])
        let images = try fixture.build(["app", "off", "cmd"])
        let base = try #require(images.first { $0.name == "base" }?.config.config)
        #expect(base.healthcheck == Healthcheck(test: ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"], interval: 90_000_000_000,
                                                timeout: 500_000_000, startPeriod: 1_500_000_000, retries: 5))
        #expect(base.volumes == ["/var/lib/app": EmptyObject(), "/data": EmptyObject()])
        // The keys and values Docker and podman read, in the one canonical encoding.
        let json = String(decoding: try CanonicalJSON.encode(base), as: UTF8.self)
        #expect(json.contains(#""Healthcheck":{"Interval":90000000000,"Retries":5,"StartPeriod":1500000000,"Test":["CMD-SHELL","curl -f http://localhost:8080/ || exit 1"],"Timeout":500000000}"#), "\(json)")
        #expect(json.contains(#""Volumes":{"/data":{},"/var/lib/app":{}}"#), "\(json)")
        #expect(images.first { $0.name == "app" }?.config.config?.healthcheck == base.healthcheck)
        let off = try #require(images.first { $0.name == "off" }?.config.config)
        #expect(off.healthcheck == Healthcheck(test: ["NONE"]))
        #expect(off.volumes == nil)
        #expect(images.first { $0.name == "cmd" }?.config.config?.healthcheck == Healthcheck(test: ["CMD", "/bin/check", "--fast"]))
        // A config without them has neither key.
        let plain = String(decoding: try CanonicalJSON.encode(ContainerConfig()), as: UTF8.self)
        #expect(plain == "{}")
    }

    @Test(arguments: [("30s", 30_000_000_000), ("1m30s", 90_000_000_000), ("500ms", 500_000_000), ("1h", 3_600_000_000_000),
                      ("1.5s", 1_500_000_000), ("2us", 2_000), ("2µs", 2_000), ("7ns", 7), ("1h2m3s4ms", 3_723_004_000_000)] as [(String, Int64)])
    func durationsReadAsGoAndDockerWriteThem(text: String, nanoseconds: Int64) {
        #expect(Duration.nanoseconds(text) == nanoseconds)
    }

    @Test(arguments: ["", "30", "s", "1.s", ".s", "1m30", "5d", "-1s", "1 s", "9999999999999h"])
    func malformedDurationsAreRefused(text: String) {
        #expect(Duration.nanoseconds(text) == nil)
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
