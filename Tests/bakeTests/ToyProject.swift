import Foundation
import TestSupport

/// A three-image pipeline on `scratch` with the shape of the example in `images/` (base ->
/// app-base -> app), made only of copy and remove steps: it builds in milliseconds, without
/// root, network or Debian, so the tests of the cache, the lock, verify and the command
/// line can build it many times. (The example itself, on Debian, is tested end to end in
/// ExamplePipelineTests.)
enum ToyProject {
    /// Files of `images/`, relative to it: contents and mode (0755 for executables, as git
    /// would check them out).
    static let files: [(path: String, contents: String, mode: Int)] = [
        ("base/stage.yaml", """
            # The base image every server of the team starts from.
            description: Team base - accounts, OS identity, common tools
            from: scratch
            steps:
              # A folder's contents are copied into `to`; files get 0755 if their owner may
              # execute them in git, 0644 otherwise; everything is owned by 0:0.
              - copy: rootfs/
                to: /
            config:
              env:
                PATH: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                LANG: C.UTF-8
                TZ: UTC
              labels:
                org.opencontainers.image.vendor: Example Team

            """, 0o644),
        ("base/rootfs/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644),
        ("base/rootfs/etc/motd", "This server is built by bake. Do not change it by hand: change images/ and rebuild.\n", 0o644),
        ("base/rootfs/etc/os-release", "PRETTY_NAME=\"Example Team Base\"\nNAME=\"team-base\"\nID=team-base\nVERSION_ID=1\n", 0o644),
        ("base/rootfs/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", 0o644),
        ("base/rootfs/usr/local/bin/probe", """
            #!/bin/sh
            # probe URL: exit 0 when the URL answers (used by health checks).
            exec wget -q -O /dev/null "$1"

            """, 0o755),
        ("app-base/stage.yaml", """
            # The runtime the app needs: its user, its folders and their permissions.
            description: App runtime - app user, folders, permissions
            from: base
            steps:
              # /etc/passwd and /etc/group with a fixed-uid app user (10001).
              - copy: etc/
                to: /etc/
              # The app's home and the folders it writes to, owned by the app user
              # (names are resolved from the /etc/passwd copied by the step above).
              - copy: app-home/
                to: /srv/app/
                owner: "app:app"
              # Servers built from this image show no login banner.
              - remove: [/etc/motd]
            config:
              user: app
              workdir: /srv/app
              env:
                APP_HOME: /srv/app

            """, 0o644),
        ("app-base/etc/group", "root:x:0:\nnogroup:x:65534:\napp:x:10001:\n", 0o644),
        ("app-base/etc/passwd", """
            root:x:0:0:root:/root:/bin/sh
            nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
            app:x:10001:10001:app:/srv/app:/usr/sbin/nologin

            """, 0o644),
        ("app-base/app-home/releases/.keep", "", 0o644),
        ("app-base/app-home/shared/.keep", "", 0o644),
        ("app/stage.yaml", """
            # The app: its code and boot script.
            description: The web app
            from: app-base
            steps:
              - copy: site/
                to: /srv/app/current/
                owner: "app:app"
              - copy: boot.sh
                to: /usr/local/bin/boot
                mode: "0755"
            config:
              entrypoint: [/usr/local/bin/boot]
              cmd: []
              ports: [8080]
              env:
                APP_ENV: production
              labels:
                org.opencontainers.image.title: app
              stopSignal: SIGTERM

            """, 0o644),
        ("app/boot.sh", """
            #!/bin/sh
            # Boot script: fail fast when required configuration is missing, then serve.
            set -eu
            : "${APP_ENV:?APP_ENV must be set}"
            echo "app starting (env=$APP_ENV)"
            exec httpd -f -p 8080 -h /srv/app/current

            """, 0o644),
        ("app/site/assets/site.css", "body { font-family: sans-serif; margin: 4rem; }\n", 0o644),
        ("app/site/index.html", """
            <!doctype html>
            <html>
              <head><title>app</title><link rel="stylesheet" href="assets/site.css"></head>
              <body><h1>Hello from bake</h1></body>
            </html>

            """, 0o644),
    ]

    /// Symlinks of `images/`: path -> target.
    static let symlinks: [(path: String, target: String)] = [
        ("base/rootfs/etc/localtime", "../usr/share/zoneinfo/UTC"),
    ]

    /// Writes the toy pipeline's `images/` into `project` (created if missing).
    static func write(at project: String) throws {
        try Fixture.mkdir(project)
        for file in files { try Fixture.write(project + "/images/" + file.path, file.contents, mode: file.mode) }
        for link in symlinks { try Fixture.symlink(link.target, at: project + "/images/" + link.path) }
    }

    /// The size of a file of the toy's `images/`.
    static func size(_ path: String) -> Int {
        files.first { $0.path == path }.map { $0.contents.utf8.count } ?? -1
    }
}
