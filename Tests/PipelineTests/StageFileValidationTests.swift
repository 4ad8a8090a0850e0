import Foundation
import Testing
import TestSupport
@testable import Pipeline
import Provisioners

/// Each validation error: one sentence with file:line:column, reported as bad input.
@Suite struct StageFileValidationTests {
    static let site = ["images/app/site/index.html": "<h1>hi</h1>", "images/base/stage.yaml": "from: scratch\n"]

    static let cases: [(yaml: String, expected: String)] = [
        ("from: scratch\nstep:\n  - copy: site/\n    to: /srv/\n",
         "images/app/stage.yaml:2:1: unknown key 'step' at the top of the stage file; did you mean 'steps'?"),
        ("from: scratch\nsteps:\n  - copy: site/\n    too: /srv/\n",
         "images/app/stage.yaml:4:5: unknown key 'too' in a copy step; did you mean 'to'?"),
        ("from: scratch\nsteps:\n  - copy: site/\n    dest: /srv/\n",
         "images/app/stage.yaml:4:5: unknown key 'dest' in a copy step; did you mean 'to'?"),
        ("from: scratch\nsteps:\n  - copy: site/\n",
         "images/app/stage.yaml:3:5: a copy step needs 'to:', the absolute path it copies to (end it with / to copy into a folder)"),
        ("from: scratch\nsteps: copy\n",
         "images/app/stage.yaml:2:8: 'steps' must be a list of steps, each starting with '- ', not 'copy'"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: [/srv]\n",
         "images/app/stage.yaml:4:9: 'to' must be an absolute path in the image, like /srv/app/, not a list"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: srv/app/\n",
         "images/app/stage.yaml:4:9: 'to: srv/app/' must be an absolute path in the image, like /srv/app/"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/../etc/\n",
         "images/app/stage.yaml:4:9: 'to: /srv/../etc/' must not contain '..'"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/\n    mode: \"0999\"\n",
         "images/app/stage.yaml:5:11: 'mode: 0999' is not an octal file mode like \"0644\" or \"4755\""),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/\n    owner: a:b:c\n",
         "images/app/stage.yaml:5:12: 'owner: a:b:c' is not uid:gid or user:group (like \"1000:1000\" or \"app:app\")"),
        ("from: scratch\nsteps:\n  - run: make\n    network: yes\n",
         "images/app/stage.yaml:4:14: 'network' must be true or false, not yes"),
        ("from: scratch\nsteps:\n  - copy: nothere/\n    to: /srv/\n",
         "images/app/stage.yaml:3:11: copy source 'nothere/' does not exist in images/app"),
        ("from: scratch\nsteps:\n  - copy: site/index.html/\n    to: /srv/\n",
         "images/app/stage.yaml:3:11: copy source 'site/index.html/' is a file, not a folder; drop the trailing '/'"),
        ("from: scratch\nsteps:\n  - copy: ../base/\n    to: /srv/\n",
         "images/app/stage.yaml:3:11: copy source '../base/' is outside the image folder images/app"),
        ("from: scratch\nsteps:\n  - copy: /etc/passwd\n    to: /srv/\n",
         "images/app/stage.yaml:3:11: copy source '/etc/passwd' must be a path relative to the image folder images/app, not an absolute path"),
        ("from: bas\n",
         "images/app/stage.yaml:1:7: 'from: bas' names no image: images/bas/stage.yaml does not exist; did you mean 'base'?"),
        ("from: app\n",
         "images/app/stage.yaml:1:7: image app cannot be built from itself"),
        ("steps: []\n",
         "images/app/stage.yaml:1:1: the stage file has no 'from:'; start it with 'from: scratch' or 'from: IMAGE'"),
        ("from: scratch\nsteps: [\n",
         "images/app/stage.yaml:3:1: YAML syntax error: did not find expected node content (while parsing a flow node at line 3)"),
        ("from: scratch\nfrom: base\n",
         "images/app/stage.yaml:2:1: key 'from' appears twice in the same mapping"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/\n    to: /opt/\n",
         "images/app/stage.yaml:5:5: key 'to' appears twice in the same mapping"),
        ("- from: scratch\n",
         "images/app/stage.yaml:1:1: the stage file must be a mapping with keys like 'from:' and 'steps:', not a list"),
        ("from: {oci: ./layout, ref: \"\"}\n",
         "images/app/stage.yaml:1:28: 'ref' in 'from' is empty; name the image in the OCI layout"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: \"/srv/\\0x\"\n",
         "images/app/stage.yaml:4:9: 'to' contains the control character U+0000; paths must be plain text"),
        ("from: scratch\nsteps:\n  - copy: \"site/\\0evil\"\n    to: /srv/\n",
         "images/app/stage.yaml:3:11: the copy source contains the control character U+0000; paths must be plain text"),
        ("",
         "images/app/stage.yaml:1:1: the stage file is empty; it needs at least 'from:' (for example 'from: scratch')"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/\n    run: make\n",
         "images/app/stage.yaml:5:5: step 1 has both 'copy' and 'run'; write them as two steps"),
        ("from: scratch\nsteps:\n  - cpy: site/\n",
         "images/app/stage.yaml:3:5: unknown key 'cpy' in step 1; did you mean 'copy'?"),
        ("from: scratch\nsteps:\n  - to: /srv/\n",
         "images/app/stage.yaml:3:5: step 1 needs one of 'copy', 'run', 'apt' or 'remove'"),
        ("from: scratch\nsteps:\n  - apt: nginx\n",
         "images/app/stage.yaml:3:10: 'apt' must be a list of Debian packages, like [nginx, curl], not 'nginx'"),
        ("from: scratch\nsteps:\n  - apt: [Nginx!]\n",
         "images/app/stage.yaml:3:11: 'Nginx!' is not a Debian package name (optionally with =VERSION)"),
        ("from: scratch\nsteps:\n  - remove: [etc/motd]\n",
         "images/app/stage.yaml:3:14: 'etc/motd' must be an absolute path in the image, like /etc/motd"),
        ("from: scratch\nsteps:\n  - remove: [/]\n",
         "images/app/stage.yaml:3:14: 'remove' cannot remove the root folder /"),
        ("from: scratch\nconfig:\n  env: {1BAD: x}\n",
         "images/app/stage.yaml:3:9: '1BAD' is not an environment variable name (letters, digits and '_', not starting with a digit)"),
        ("from: scratch\nconfig:\n  environment: {A: b}\n",
         "images/app/stage.yaml:3:3: unknown key 'environment' in 'config'; did you mean 'env'?"),
        ("from: scratch\nconfig:\n  ports: [70000]\n",
         "images/app/stage.yaml:3:11: '70000' is not a port like 8080, \"8080/tcp\" or \"53/udp\""),
        ("from: scratch\nconfig:\n  stopSignal: SIGFOO\n",
         "images/app/stage.yaml:3:15: 'SIGFOO' is not a signal name like SIGTERM or SIGQUIT"),
        ("from: scratch\nconfig:\n  healthcheck: {test: \"curl -f http://localhost/\", interval: 30}\n",
         "images/app/stage.yaml:3:62: 'interval: 30' is not a duration like 30s, 1m30s or 500ms"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [CMD, /bin/check]\n    timeout: 1m30x\n",
         "images/app/stage.yaml:5:14: 'timeout: 1m30x' is not a duration like 30s, 1m30s or 500ms"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [CMD, /bin/check]\n    startPeriod: 500us\n",
         "images/app/stage.yaml:5:18: 'startPeriod: 500us' must be at least 1ms"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [CMD, /bin/check]\n    retries: 0\n",
         "images/app/stage.yaml:5:14: 'retries: 0' is not a number of retries from 1 to 1000000"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [curl, -f, http://localhost/]\n",
         "images/app/stage.yaml:4:12: the first element of 'test' must be CMD, CMD-SHELL or NONE, not 'curl'"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [CMD]\n",
         "images/app/stage.yaml:4:12: 'CMD' in 'test' needs the program to run after it, like [CMD, /bin/check]"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [NONE, x]\n",
         "images/app/stage.yaml:4:18: 'NONE' in 'test' takes nothing after it"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [CMD-SHELL, a, b]\n",
         "images/app/stage.yaml:4:12: 'CMD-SHELL' in 'test' takes exactly one shell command after it"),
        ("from: scratch\nconfig:\n  healthcheck:\n    interval: 30s\n",
         "images/app/stage.yaml:4:5: 'healthcheck' needs 'test:', the command that says the container works (or [NONE] for no check)"),
        ("from: scratch\nconfig:\n  healthcheck:\n    test: [NONE]\n    start_period: 5s\n",
         "images/app/stage.yaml:5:5: unknown key 'start_period' in 'healthcheck'; did you mean 'startPeriod'?"),
        ("from: scratch\nconfig:\n  healthcheck: curl -f http://localhost/\n",
         "images/app/stage.yaml:3:16: 'healthcheck' must be a mapping like {test: \"curl -f http://localhost/\", interval: 30s}, not 'curl -f http://localhost/'"),
        ("from: scratch\nconfig:\n  volumes: [/data, cache]\n",
         "images/app/stage.yaml:3:20: the volume 'cache' must be an absolute path, like /cache"),
        ("from: scratch\nconfig:\n  volumes: [/data/../etc]\n",
         "images/app/stage.yaml:3:13: the volume '/data/../etc' must not contain '..'"),
        ("from: scratch\nconfig:\n  volumes: [//]\n",
         "images/app/stage.yaml:3:13: a volume cannot be the image's root folder /"),
        ("from: scratch\nconfig:\n  volumes: [/data, /data/]\n",
         "images/app/stage.yaml:3:20: the volume /data is listed twice"),
        ("from: scratch\nconfig:\n  volumes: /data\n",
         "images/app/stage.yaml:3:12: 'volumes' must be a list of absolute paths, like [/var/lib/app], not '/data'"),
        ("from: scratch\nconfig:\n  volume: [/data]\n",
         "images/app/stage.yaml:3:3: unknown key 'volume' in 'config'; did you mean 'volumes'?"),
        ("from: scratch\nconfig:\n  entrypoint: /usr/local/bin/boot\n",
         "images/app/stage.yaml:3:15: 'entrypoint' must be a list, like [/usr/local/bin/boot]; use [] for none, not '/usr/local/bin/boot'"),
        ("from: scratch\nconfig:\n  workdir: srv\n",
         "images/app/stage.yaml:3:12: 'workdir: srv' must be an absolute path, like /srv"),
        ("from: scratch\nchecks:\n  - user: root\n",
         "images/app/stage.yaml:3:5: a check needs 'run:', the command that must succeed in the finished image"),
        ("from: {debian: {variant: minbase}}\n",
         "images/app/stage.yaml:1:16: 'from: {debian: ...}' needs 'suite:' (for example 'suite: bookworm')"),
        ("from:\n  debian:\n    suite: bookworm\n    variant: minbas\n",
         "images/app/stage.yaml:4:14: 'minbas' is not an mmdebstrap variant (one of extract, custom, essential, apt, required, minbase, buildd, important, debootstrap, standard); did you mean 'minbase'?"),
        ("from: {debian: {suite: bookworm}, image: x}\n",
         "images/app/stage.yaml:1:35: 'from' names both 'debian' and 'image'; an image has one base"),
        ("from: {oci: ./layout}\n",
         "images/app/stage.yaml:1:8: 'from: {oci: ./layout}' needs 'ref:' naming the image in the layout, e.g. {oci: ./layout, ref: latest}"),
        // Issue 14: NUL bytes where a C string or a runtime would cut them, empty check users,
        // destinations that would read back as deletions.
        ("from: scratch\nconfig:\n  env: {A: \"x\\0y\"}\n",
         "images/app/stage.yaml:3:12: the value of A contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nconfig:\n  labels: {a: \"x\\0y\"}\n",
         "images/app/stage.yaml:3:15: the value of label a contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nconfig:\n  labels: {\"a\\0b\": x}\n",
         "images/app/stage.yaml:3:12: a label name contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nconfig:\n  user: \"app\\0root\"\n",
         "images/app/stage.yaml:3:9: 'user' contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nconfig:\n  cmd: [\"a\\0b\"]\n",
         "images/app/stage.yaml:3:9: an element of 'cmd' contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nsteps:\n  - run: make\n    user: \"app\\0\"\n",
         "images/app/stage.yaml:4:11: 'user' contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nsteps:\n  - run: \"echo \\0 hidden\"\n",
         "images/app/stage.yaml:3:10: the script of 'run' contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nchecks:\n  - run: \"true\"\n    user: \"\"\n",
         "images/app/stage.yaml:4:11: 'user' is empty"),
        ("from: scratch\nchecks:\n  - run: \"true\"\n    user: \"a\\0b\"\n",
         "images/app/stage.yaml:4:11: 'user' contains a NUL byte, which an image cannot hold"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /.wh.x\n",
         "images/app/stage.yaml:4:9: 'to: /.wh.x' has a name starting with '.wh.', which OCI reserves for deletions; choose another name"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/.wh..wh..opq/\n",
         "images/app/stage.yaml:4:9: 'to: /srv/.wh..wh..opq/' has a name starting with '.wh.', which OCI reserves for deletions; choose another name"),
        ("from: {debain: {suite: bookworm}}\n",
         "images/app/stage.yaml:1:8: unknown key 'debain' in 'from'; did you mean 'debian'?"),
        // Issue 13: the id setresuid reads as "unchanged" would leave a command root.
        ("from: scratch\nsteps:\n  - run: id\n    user: \"4294967295\"\n",
         "images/app/stage.yaml:4:11: 'user: 4294967295' uses the id 4294967295, which the kernel reads as \"unchanged\" (the command would run as root); use another id"),
        ("from: scratch\nsteps:\n  - run: id\n    user: \"1000:4294967295\"\n",
         "images/app/stage.yaml:4:11: 'user: 1000:4294967295' uses the id 4294967295, which the kernel reads as \"unchanged\" (the command would run as root); use another id"),
        ("from: scratch\nchecks:\n  - run: id\n    user: \"4294967295:0\"\n",
         "images/app/stage.yaml:4:11: 'user: 4294967295:0' uses the id 4294967295, which the kernel reads as \"unchanged\" (the command would run as root); use another id"),
        ("from: scratch\nconfig:\n  user: \"4294967295\"\n",
         "images/app/stage.yaml:3:9: 'user: 4294967295' uses the id 4294967295, which the kernel reads as \"unchanged\" (the command would run as root); use another id"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/\n    owner: \"4294967295\"\n",
         "images/app/stage.yaml:5:12: 'owner: 4294967295' uses the id 4294967295, which the kernel reads as \"unchanged\" (the command would run as root); use another id"),
        ("from: scratch\nsteps:\n  - run: id\n    user: \"a:b:c\"\n",
         "images/app/stage.yaml:4:11: 'user: a:b:c' is not a user, uid, user:group or uid:gid (like \"app\", \"1000\" or \"app:www\")"),
        ("from: scratch\nsteps:\n  - run: make\n    limits: {memory: lots}\n",
         "images/app/stage.yaml:4:22: 'memory: lots' is not a size like 512M or 2G (bytes, or a number with K, M, G or T)"),
        ("from: scratch\nsteps:\n  - run: make\n    limits: {memory: 1M}\n",
         "images/app/stage.yaml:4:22: 'memory: 1M' is below the smallest memory limit, 4 MiB"),
        ("from: scratch\nsteps:\n  - run: make\n    limits: {pids: 2}\n",
         "images/app/stage.yaml:4:20: 'pids: 2' is not a number of processes from 8 to 4194304"),
        ("from: scratch\nsteps:\n  - run: make\n    limits: {cpu: 2}\n",
         "images/app/stage.yaml:4:14: unknown key 'cpu' in 'limits'; it takes memory and pids"),
        ("from: scratch\nsteps:\n  - run: make\n    limits: 2G\n",
         "images/app/stage.yaml:4:13: 'limits' must be a mapping like {memory: 2G, pids: 1024}, not '2G'"),
        ("from: scratch\nchecks:\n  - run: make\n    limits: {pids: many}\n",
         "images/app/stage.yaml:4:20: 'pids: many' is not a number of processes from 8 to 4194304"),
        ("from: scratch\nsteps:\n  - copy: site/\n    to: /srv/\n    limits: {pids: 10}\n",
         "images/app/stage.yaml:5:5: unknown key 'limits' in a copy step"),
    ]

    @Test(arguments: cases)
    func reportsTheSentenceAndPlace(yaml: String, expected: String) throws {
        var files = Self.site
        files["images/app/stage.yaml"] = yaml
        let fixture = try ProjectFixture(files)
        let diagnostics = try fixture.diagnostics()
        #expect(diagnostics.contains(expected), "got: \(diagnostics)")
    }

    @Test func aCopySourceThatLeavesThroughASymlinkIsRefused() throws {
        let fixture = try ProjectFixture(["images/app/stage.yaml": "from: scratch\nsteps:\n  - copy: link/passwd\n    to: /etc/passwd\n"])
        try Fixture.symlink("/etc", at: fixture.dir.at("images/app/link"))
        #expect(try fixture.diagnostics() == [
            "images/app/stage.yaml:3:11: copy source 'link/passwd' leads through a symlink to /etc/passwd, outside the image folder images/app",
        ])
    }

    @Test func cyclesAreNamedOnce() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from: c\n",
            "images/b/stage.yaml": "from: a\n",
            "images/c/stage.yaml": "from: b\n",
            "images/d/stage.yaml": "from: c\n",
        ])
        #expect(try fixture.diagnostics() == ["images/a/stage.yaml:1:7: 'from:' makes a cycle: a -> c -> b -> a"])
    }

    @Test func everyProblemOfEveryFileIsReportedInFileOrder() throws {
        let fixture = try ProjectFixture([
            "images/b/stage.yaml": "from: scratch\nstepz: []\n",
            "images/a/stage.yaml": "form: scratch\n",
        ])
        #expect(try fixture.diagnostics() == [
            "images/a/stage.yaml:1:1: unknown key 'form' at the top of the stage file; did you mean 'from'?",
            "images/a/stage.yaml:1:1: the stage file has no 'from:'; start it with 'from: scratch' or 'from: IMAGE'",
            "images/b/stage.yaml:2:1: unknown key 'stepz' at the top of the stage file; did you mean 'steps'?",
        ])
    }

    @Test func folderNamesMustBeImageNames() throws {
        let fixture = try ProjectFixture(["images/My App/stage.yaml": "from: scratch\n", "images/x/stage.yml": "from: scratch\n"])
        #expect(try fixture.diagnostics() == [
            "images/My App/stage.yaml:1:1: 'My App' is not a valid image name: use lowercase letters, digits, and '.', '_' or '-' between them",
            "images/x/stage.yml:1:1: bake reads stage.yaml, not stage.yml; rename the file",
        ])
    }

    @Test func aProjectWithoutImagesIsBadInput() throws {
        let dir = TemporaryDirectory()
        #expect {
            _ = try Project.load(directory: dir.path)
        } throws: { error in
            (error as? PipelineError)?.isBadInput == true && "\(error)".contains("has no images/ folder")
        }
    }

    @Test func theWholeSchemaParses() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\n",
            "images/app/site/index.html": "x",
            "images/app/boot.sh": "#!/bin/sh\n",
            "images/app/stage.yaml": """
                description: everything the format allows
                from: base
                steps:
                  - copy: site/
                    to: /srv/app/
                    mode: "0640"
                    owner: "app:app"
                  - copy: boot.sh
                    to: /usr/local/bin/boot
                    owner: 1000
                  - run: |
                      echo one
                      echo two
                    network: true
                    secrets: [vault_token, npm.token]
                    user: app
                  - apt: [nginx, "curl=7.88.1-10+deb12u5"]
                  - remove: [/usr/share/doc, /etc/motd]
                config:
                  env: {APP_ENV: production, PORT: 8080, REMOVED: null}
                  workdir: /srv/app
                  user: app
                  entrypoint: [/usr/local/bin/boot]
                  cmd: []
                  ports: [8080, "53/udp"]
                  labels: {org.opencontainers.image.title: app}
                  stopSignal: TERM
                checks:
                  - run: nginx -t
                  - run: test -x /usr/local/bin/boot
                    user: app

                """,
        ])
        let project = try fixture.load()
        let app = try #require(project.stages["app"])
        #expect(app.base.parentImage == "base")
        #expect(app.steps.map(\.kind) == ["copy", "copy", "run", "apt", "remove"])
        #expect(app.steps[0].provisioner as? CopyStep == CopyStep(source: "site/", to: "/srv/app/", mode: 0o640, owner: UserSpec(user: .name("app"), group: .name("app"))))
        #expect(app.steps[1].provisioner as? CopyStep == CopyStep(source: "boot.sh", to: "/usr/local/bin/boot", mode: nil, owner: UserSpec(user: .id(1000), group: nil)))
        #expect(app.steps[2].provisioner as? RunStep == RunStep(script: "echo one\necho two\n", network: true, secrets: ["vault_token", "npm.token"], user: UserSpec(user: .name("app"))))
        #expect(app.steps[3].provisioner as? AptStep == AptStep(packages: ["nginx", "curl=7.88.1-10+deb12u5"]))
        #expect(app.steps[4].location.description == "images/app/stage.yaml:18:5")
        #expect(app.config.env.map(\.0) == ["APP_ENV", "PORT", "REMOVED"])
        #expect(app.config.env[1].1 == "8080")
        #expect(app.config.env[2].1 == nil)
        #expect(app.config.ports == ["8080/tcp", "53/udp"])
        #expect(app.config.stopSignal == "SIGTERM")
        #expect(app.checks.count == 2)
        #expect(app.checks[1].user == UserSpec(user: .name("app")))
    }

    @Test func limitsOfRunStepsAndChecksAreRead() throws {
        let fixture = try ProjectFixture([
            "images/app/stage.yaml": """
                from: scratch
                steps:
                  - run: make
                    limits: {memory: 2G, pids: 1024}
                  - run: make test
                checks:
                  - run: "true"
                    limits: {memory: 512M}

                """,
        ])
        let app = try #require(try fixture.load().stages["app"])
        let first = try #require(app.steps[0].provisioner as? RunStep)
        #expect(first.limits == ResourceLimits(memory: 2 << 30, processes: 1024))
        #expect((app.steps[1].provisioner as? RunStep)?.limits == ResourceLimits())
        #expect(app.checks[0].limits == ResourceLimits(memory: 512 << 20))
        // Not in the step's spec, so not in its cache key.
        #expect(first.spec == RunStep(script: "make").spec)
    }

    @Test func aRegistryBaseMustNameItsHost() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from:\n  image: team/base@sha256:\(String(repeating: "a", count: 64))\n",
        ])
        #expect {
            _ = try fixture.load()
        } throws: { error in
            let text = "\(error)"
            return (error as? PipelineError)?.isBadInput == true && text.contains("images/a/stage.yaml:2:10")
                && text.contains("'team' is not a registry host")
        }
    }

    @Test func aSecretThatIsNotGivenStopsTheBuildBeforeTheStoreIsTouched() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from: scratch\nsteps:\n  - run: make\n    secrets: [token]\n",
        ])
        #expect {
            _ = try fixture.build(["a"])
        } throws: { error in
            (error as? PipelineError)?.isBadInput == true
                && "\(error)" == "images/a/stage.yaml:3:5: step 1 of a: secret 'token' is not given, and the step is not in the cache; pass --secret id=token,env=VARIABLE or --secret id=token,src=FILE"
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.dir.at(".bake")))
    }
}
