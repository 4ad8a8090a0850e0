import Foundation
import Testing
import OCI
import TestSupport
@testable import Layers
@testable import Pipeline

/// What copy and remove steps put into layers, read back from the store.
@Suite struct CopyAndRemoveTests {
    @Test func aFolderIsCopiedWithGitModesRootOwnersAndTheBuildTime() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: tree/\n    to: /srv/app/\n",
        ])
        try Fixture.write(fixture.dir.at("images/a/tree/private.key"), "k", mode: 0o600)
        try Fixture.write(fixture.dir.at("images/a/tree/world.txt"), "w", mode: 0o666)
        try Fixture.write(fixture.dir.at("images/a/tree/bin/tool"), "#!", mode: 0o700)
        try Fixture.write(fixture.dir.at("images/a/tree/bin/group-exec"), "#!", mode: 0o610)
        try Fixture.mkdir(fixture.dir.at("images/a/tree/locked"), mode: 0o700)
        try Fixture.mkdir(fixture.dir.at("images/a/tree/empty"))
        try Fixture.symlink("../world.txt", at: fixture.dir.at("images/a/tree/bin/link"))
        try Fixture.symlink("/etc/shadow", at: fixture.dir.at("images/a/tree/outside-link"))
        try Fixture.hardlink(fixture.dir.at("images/a/tree/world.txt"), at: fixture.dir.at("images/a/tree/zz-hard"))
        let image = try #require(try fixture.build(epoch: 1_700_000_000).first)
        #expect(try fixture.listing(of: image.newLayers[0]) == [
            "d 0755 0:0 srv",
            "d 0755 0:0 srv/app",
            "d 0755 0:0 srv/app/bin",
            "- 0644 0:0 srv/app/bin/group-exec size=2",
            "l 0777 0:0 srv/app/bin/link -> ../world.txt",
            "- 0755 0:0 srv/app/bin/tool size=2",
            "d 0755 0:0 srv/app/empty",
            "d 0755 0:0 srv/app/locked",
            "l 0777 0:0 srv/app/outside-link -> /etc/shadow",
            "- 0644 0:0 srv/app/private.key size=1",
            "- 0644 0:0 srv/app/world.txt size=1",
            "h 0644 0:0 srv/app/zz-hard link to srv/app/world.txt",
        ])
        #expect(try fixture.entries(of: image.newLayers[0]).allSatisfy { $0.mtime == 1_700_000_000 })
        #expect(image.config.created == "2023-11-14T22:13:20Z")
    }

    @Test func modeAndNumericOwnerApplyToWhatIsCopied() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": """
                from: scratch
                steps:
                  - copy: tree/
                    to: /data/
                    mode: "4750"
                    owner: "1000:2000"
                  - copy: tree/f
                    to: /single
                    owner: "33"

                """,
            "images/a/tree/f": "x",
            "images/a/tree/sub/g": "y",
        ])
        let image = try #require(try fixture.build().first)
        #expect(try fixture.listing(of: image.newLayers[0]) == [
            "d 0755 1000:2000 data",
            "- 4750 1000:2000 data/f size=1",
            "d 0755 1000:2000 data/sub",
            "- 4750 1000:2000 data/sub/g size=1",
        ])
        #expect(try fixture.listing(of: image.newLayers[1]) == ["- 0644 33:33 single size=1"])
    }

    @Test func ownerNamesAreResolvedFromTheImageBelow() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: etc/\n    to: /etc/\n",
            "images/base/etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:10001:10002::/srv:/sbin/nologin\n",
            "images/base/etc/group": "root:x:0:\napp:x:10002:\nwww:x:33:\n",
            "images/app/stage.yaml": """
                from: base
                steps:
                  - copy: f
                    to: /srv/f1
                    owner: app
                  - copy: f
                    to: /srv/f2
                    owner: "app:www"
                  - copy: f
                    to: /srv/f3
                    owner: "7:www"

                """,
            "images/app/f": "x",
        ])
        let app = try #require(try fixture.build(["app"]).last)
        #expect(try fixture.listing(of: app.newLayers[0]).last == "- 0644 10001:10002 srv/f1 size=1")
        #expect(try fixture.listing(of: app.newLayers[1]).last == "- 0644 10001:33 srv/f2 size=1")
        #expect(try fixture.listing(of: app.newLayers[2]).last == "- 0644 7:33 srv/f3 size=1")
    }

    @Test func anUnknownOwnerNameIsBadInputAtItsStep() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: f\n    to: /f\n    owner: nobody\n",
            "images/a/f": "x",
        ])
        #expect {
            _ = try fixture.build()
        } throws: { error in
            (error as? PipelineError)?.isBadInput == true
                && "\(error)" == "images/a/stage.yaml:3:5: step 1 of a: owner 'nobody': the image below has no user 'nobody' in /etc/passwd"
        }
    }

    @Test func filesGoToTheirPathOrIntoAFolderAndExistingFoldersKeepTheirMetadata() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: srv/\n    to: /srv/\n    owner: \"10:20\"\n    mode: \"0600\"\n",
            "images/base/srv/keep": "k",
            "images/app/stage.yaml": """
                from: base
                steps:
                  - copy: conf/app.conf
                    to: /srv/
                  - copy: conf/app.conf
                    to: /srv/renamed.conf
                  - copy: conf/app.conf
                    to: /new/deep/

                """,
            "images/app/conf/app.conf": "c",
        ])
        let app = try #require(try fixture.build(["app"]).last)
        // /srv exists below (10:20): its entry keeps that owner and mode instead of resetting them.
        #expect(try fixture.listing(of: app.newLayers[0]) == ["d 0755 10:20 srv", "- 0644 0:0 srv/app.conf size=1"])
        #expect(try fixture.listing(of: app.newLayers[1]) == ["d 0755 10:20 srv", "- 0644 0:0 srv/renamed.conf size=1"])
        #expect(try fixture.listing(of: app.newLayers[2]) == ["d 0755 0:0 new", "d 0755 0:0 new/deep", "- 0644 0:0 new/deep/app.conf size=1"])
    }

    @Test func aFileCannotSilentlyReplaceAFolder() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: d/\n    to: /srv/app/\n  - copy: f\n    to: /srv/app\n",
            "images/a/d/x": "x",
            "images/a/f": "f",
        ])
        #expect {
            _ = try fixture.build()
        } throws: { error in
            "\(error)" == "images/a/stage.yaml:5:5: step 2 of a: 'to: /srv/app' is a folder in the image below; write 'to: /srv/app/' to copy f into it"
                && (error as? PipelineError)?.isBadInput == true
        }
    }

    @Test func destinationsFollowSymlinksInsideTheImage() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: root/\n    to: /\n",
            "images/base/root/usr/bin/true": "t",
            "images/app/stage.yaml": "from: base\nsteps:\n  - copy: tool\n    to: /bin/\n",
            "images/app/tool": "#!",
        ])
        try Fixture.symlink("usr/bin", at: fixture.dir.at("images/base/root/bin"))
        let app = try #require(try fixture.build(["app"]).last)
        #expect(try fixture.listing(of: app.newLayers[0]) == ["d 0755 0:0 usr", "d 0755 0:0 usr/bin", "- 0644 0:0 usr/bin/tool size=2"])
    }

    @Test func removeWritesOneWhiteoutPerRemovedTree() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: root/\n    to: /\n",
            "images/base/root/usr/share/doc/a/README": "r",
            "images/base/root/usr/share/man/man1/x.1": "m",
            "images/base/root/etc/motd": "hi",
            "images/app/stage.yaml": "from: base\nsteps:\n  - remove: [/usr/share/doc/a/README, /usr/share/doc, /etc/motd, /usr/share/man/man1/x.1]\n",
        ])
        let app = try #require(try fixture.build(["app"]).last)
        #expect(try fixture.listing(of: app.newLayers[0]) == [
            "d 0755 0:0 etc",
            "- 0600 0:0 etc/.wh.motd size=0",
            "d 0755 0:0 usr",
            "d 0755 0:0 usr/share",
            "- 0600 0:0 usr/share/.wh.doc size=0",
            "d 0755 0:0 usr/share/man",
            "d 0755 0:0 usr/share/man/man1",
            "- 0600 0:0 usr/share/man/man1/.wh.x.1 size=0",
        ])
    }

    @Test func removingWhatIsNotThereIsBadInput() throws {
        let fixture = try ProjectFixture(["images/a/stage.yaml": "from: scratch\nsteps:\n  - remove: [/etc/motd]\n"])
        #expect {
            _ = try fixture.build()
        } throws: { error in
            "\(error)" == "images/a/stage.yaml:3:5: step 1 of a: '/etc/motd' does not exist in the image below this step, so there is nothing to remove"
        }
    }

    @Test func laterStepsSeeEarlierOnes() throws {
        let fixture = try ProjectFixture([
            "images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: f\n    to: /etc/motd\n  - remove: [/etc/motd]\n",
            "images/a/f": "x",
        ])
        let image = try #require(try fixture.build().first)
        #expect(try fixture.listing(of: image.newLayers[1]) == ["d 0755 0:0 etc", "- 0600 0:0 etc/.wh.motd size=0"])
    }
}

/// Inputs that would make a layer say something the user did not ask for.
@Suite struct CopyRefusalTests {
    @Test(arguments: [".wh.config", ".wh...", ".wh.", ".wh..wh..opq"])
    func namesReservedForWhiteoutsAreNotCopied(_ name: String) throws {
        let fixture = try ProjectFixture(["images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: files/\n    to: /srv/\n", "images/a/files/ok": "x"])
        try Fixture.write(fixture.dir.at("images/a/files/\(name)"), "")
        #expect {
            _ = try fixture.build()
        } throws: { error in
            (error as? PipelineError)?.isBadInput == true
                && "\(error)".contains("has a name starting with '.wh.', which OCI reserves for deletions; rename it")
        }
        // Nothing was named in the store.
        let index = (try? Fixture.read(fixture.dir.at(".bake/oci/index.json"))) ?? ""
        #expect(!index.contains("ref.name"))
    }

    @Test func ownerAppliesToWhatIsNewNotToFoldersThatExistBelow() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: root/\n    to: /\n",
            "images/base/root/etc/hosts": "127.0.0.1 localhost\n",
            "images/base/root/tmp/.keep": "",
            "images/app/stage.yaml": "from: base\nsteps:\n  - copy: root/\n    to: /\n    owner: \"1000:1000\"\n",
            "images/app/root/etc/app.conf": "x",
            "images/app/root/tmp/app/x": "y",
        ])
        // /etc and /tmp exist below (root's): they stay root's; what is new gets the owner.
        let app = try #require(try fixture.build(["app"]).last)
        #expect(try fixture.listing(of: app.newLayers[0]) == [
            "d 0755 0:0 etc",
            "- 0644 1000:1000 etc/app.conf size=1",
            "d 0755 0:0 tmp",
            "d 0755 1000:1000 tmp/app",
            "- 0644 1000:1000 tmp/app/x size=1",
        ])
    }

    @Test func aFolderIsNotCopiedOverASymlinkOfTheImage() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: root/\n    to: /\n",
            "images/base/root/usr/lib/libc.so": "c",
            "images/app/stage.yaml": "from: base\nsteps:\n  - copy: root/\n    to: /\n",
            "images/app/root/lib/extra.so": "e",
        ])
        try Fixture.symlink("usr/lib", at: fixture.dir.at("images/base/root/lib"))
        #expect {
            _ = try fixture.build(["app"])
        } throws: { error in
            "\(error)" == "images/app/stage.yaml:3:5: step 1 of app: cannot copy the folder root/lib to /lib: that is a symlink in the image below (to usr/lib); copy into its target instead"
        }
    }

    @Test func aFileIsNotCopiedOverAFolderOfTheImage() throws {
        let fixture = try ProjectFixture([
            "images/base/stage.yaml": "from: scratch\nsteps:\n  - copy: root/\n    to: /\n",
            "images/base/root/etc/conf.d/a": "a",
            "images/app/stage.yaml": "from: base\nsteps:\n  - copy: root/\n    to: /\n",
            "images/app/root/etc/conf.d": "now a file",
        ])
        #expect {
            _ = try fixture.build(["app"])
        } throws: { error in
            "\(error)".hasSuffix("cannot copy to /etc/conf.d: it is a folder in the image below, and a file would replace it with everything in it")
        }
    }

    @Test func howASourceIsSpelledDoesNotChangeTheImage() throws {
        var digests: Set<String> = []
        for spelling in ["site", "site/", "./site/", "site//"] {
            let fixture = try ProjectFixture([
                "images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: \(spelling)\n    to: /srv/app\n",
                "images/a/site/index.html": "x",
            ])
            let image = try #require(try fixture.build().first)
            digests.insert(image.manifestDescriptor.digest.description)
            #expect(image.config.history?.first?.createdBy == "bake: copy site /srv/app/")
        }
        #expect(digests.count == 1)
    }
}
