import Foundation
import Layers
import OCI
import Provisioners
import Yams

/// Turns the YAML of one stage file into a validated `Stage`, collecting every problem as a
/// `Diagnostic` with file:line:column. Unknown keys get a "did you mean" suggestion.
/// References to other images and cycles are checked by `Project`, which sees all files.
struct StageFileParser {
    let name: String
    let directory: String
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    static let topLevelKeys = ["description", "from", "steps", "config", "checks"]

    /// A step kind as the parser knows it: its key, the other keys its step may have, and
    /// how its values are read.
    struct StepKind: Sendable {
        let name: String
        let keys: [String]
        /// Reads a step whose kind key holds `value`, with its other `fields`; nil after a
        /// diagnostic.
        let parse: @Sendable (inout StageFileParser, _ value: Node, _ fields: [String: KeyValue], _ step: Node) -> (any Provisioner)?

        init<P: Provisioner>(
            _ kind: P.Type, keys: [String],
            parse: @escaping @Sendable (inout StageFileParser, Node, [String: KeyValue], Node) -> P?
        ) {
            name = P.kind
            self.keys = [P.kind] + keys
            self.parse = { parser, value, fields, step in parse(&parser, value, fields, step) }
        }
    }

    /// The step kinds. A new kind is one file in Provisioners/Steps and one entry here.
    static let stepTable: [StepKind] = [
        StepKind(CopyStep.self, keys: ["to", "mode", "owner"]) { $0.parseCopy($1, fields: $2, stepNode: $3) },
        StepKind(RunStep.self, keys: ["network", "secrets", "user", "limits"]) { parser, value, fields, _ in parser.parseRun(value, fields: fields) },
        StepKind(AptStep.self, keys: []) { parser, value, _, _ in parser.packageList(value, allowEmpty: false).map(AptStep.init(packages:)) },
        StepKind(RemoveStep.self, keys: []) { parser, value, _, _ in parser.pathList(value).map(RemoveStep.init(paths:)) },
    ]
    static let stepKinds = stepTable.map(\.name)

    /// A base kind of `from: {KIND: ...}`: how its value (and the mapping around it, for
    /// `oci`'s `ref`) is read.
    struct BaseKind: Sendable {
        let name: String
        let parse: @Sendable (inout StageFileParser, _ kind: KeyValue, _ ref: KeyValue?) -> (any BaseSource)?

        init<B: BaseSource>(_ kind: B.Type, parse: @escaping @Sendable (inout StageFileParser, KeyValue, KeyValue?) -> B?) {
            name = B.kind
            self.parse = { parser, kind, ref in parse(&parser, kind, ref) }
        }
    }

    /// The base kinds of `from: {...}`. A new kind is one file in Provisioners/Bases and one
    /// entry here.
    static let baseTable: [BaseKind] = [
        BaseKind(DebianBase.self) { parser, kind, _ in parser.parseDebian(kind.value) },
        BaseKind(RegistryImageBase.self) { parser, kind, _ in parser.parseImage(kind.value) },
        BaseKind(OCILayoutBase.self) { parser, kind, ref in parser.parseOCILayout(kind, ref: ref) },
        BaseKind(RootfsBase.self) { parser, kind, _ in parser.parseRootfs(kind.value) },
    ]
    static let baseKinds = baseTable.map(\.name)
    static let debianKeys = ["suite", "variant", "packages", "mirror"]
    static let debianVariants = [
        "extract", "custom", "essential", "apt", "required", "minbase", "buildd", "important",
        "debootstrap", "standard",
    ]
    static let configKeys = ["env", "workdir", "user", "entrypoint", "cmd", "ports", "labels", "stopSignal", "healthcheck", "volumes"]
    static let healthcheckKeys = ["test", "interval", "timeout", "startPeriod", "retries"]
    static let checkKeys = ["run", "user", "limits"]
    static let limitKeys = ["memory", "pids"]

    init(name: String, directory: String, file: String) {
        self.name = name
        self.directory = directory
        self.file = file
    }

    // MARK: - Document

    private var yaml = ""

    mutating func parse(_ yaml: String) -> Stage? {
        self.yaml = yaml
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                diagnostics.append(Diagnostic(location(1, 1), "the stage file is empty; it needs at least 'from:' (for example 'from: scratch')"))
                return nil
            }
            root = node
        } catch let error as YamlError {
            diagnostics.append(yamlDiagnostic(error))
            return nil
        } catch {
            diagnostics.append(Diagnostic(location(1, 1), "cannot read YAML: \(error)"))
            return nil
        }
        guard let pairs = mapping(root, "the stage file must be a mapping with keys like 'from:' and 'steps:'") else { return nil }
        rejectUnknown(pairs, allowed: Self.topLevelKeys, context: "at the top of the stage file")
        let fields = Dictionary(pairs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })

        var description: String?
        if let field = fields["description"], !isNull(field.value) {
            description = text(field.value, "'description' must be text")
        }
        var base: StageBase?
        var baseLocation = location(of: root)
        if let field = fields["from"] {
            baseLocation = location(of: field.value)
            base = parseBase(field.value)
        } else {
            fail(root, "the stage file has no 'from:'; start it with 'from: scratch' or 'from: IMAGE'")
        }
        var steps: [Step] = []
        if let field = fields["steps"], !isNull(field.value) {
            if let items = sequence(field.value, "'steps' must be a list of steps, each starting with '- '") {
                for (index, item) in items.enumerated() {
                    if let step = parseStep(item, number: index + 1) { steps.append(step) }
                }
            }
        }
        var config = ConfigPatch()
        if let field = fields["config"], !isNull(field.value) {
            config = parseConfig(field.value)
        }
        var checks: [Check] = []
        if let field = fields["checks"], !isNull(field.value) {
            if let items = sequence(field.value, "'checks' must be a list like '- run: nginx -t'") {
                for item in items {
                    if let check = parseCheck(item) { checks.append(check) }
                }
            }
        }
        guard let base, diagnostics.isEmpty else { return nil }
        return Stage(
            name: name, directory: directory, file: file, description: description, base: base,
            baseLocation: baseLocation, steps: steps, config: config, checks: checks
        )
    }

    // MARK: - from

    private mutating func parseBase(_ node: Node) -> StageBase? {
        let usage = "'from' must be 'scratch', the name of another image of images/, or one of {debian: {...}}, {image: REF}, {oci: PATH, ref: NAME}, {rootfs: PATH}"
        if case .scalar = node, !isNull(node) {
            guard let value = node.string else { return nil }
            if value == "scratch" { return .source(ScratchBase()) }
            guard Project.isValidImageName(value) else {
                fail(node, "'from: \(value)' is not a valid image name; \(usage)")
                return nil
            }
            return .image(value)
        }
        guard case .mapping = node, let pairs = mapping(node, usage) else {
            if isNull(node) { fail(node, "'from' is empty; \(usage)") } else { fail(node, usage) }
            return nil
        }
        rejectUnknown(pairs, allowed: Self.baseKinds + ["ref"], context: "in 'from'")
        let kinds = pairs.filter { Self.baseKinds.contains($0.key) }
        guard kinds.count == 1, let kind = kinds.first else {
            if kinds.isEmpty {
                fail(node, usage)
            } else {
                fail(kinds[1].keyNode, "'from' names both '\(kinds[0].key)' and '\(kinds[1].key)'; an image has one base")
            }
            return nil
        }
        let ref = pairs.first { $0.key == "ref" }
        if let ref, kind.key != OCILayoutBase.kind {
            fail(ref.keyNode, "'ref' belongs with 'oci' in 'from'; '\(kind.key)' takes no 'ref'")
        }
        let entry = Self.baseTable.first { $0.name == kind.key }!
        return entry.parse(&self, kind, ref).map(StageBase.source)
    }

    fileprivate mutating func parseImage(_ node: Node) -> RegistryImageBase? {
        guard let reference = text(node, "'image' in 'from' must be a reference like registry.example.com/team/base@sha256:...") else { return nil }
        do {
            _ = try Reference(parsing: reference)
        } catch {
            fail(node, "\(error)")
            return nil
        }
        return RegistryImageBase(reference: reference)
    }

    fileprivate mutating func parseOCILayout(_ kind: KeyValue, ref: KeyValue?) -> OCILayoutBase? {
        guard let path = text(kind.value, "'oci' in 'from' must be the path of an OCI layout folder") else { return nil }
        guard let ref else {
            fail(kind.keyNode, "'from: {oci: \(path)}' needs 'ref:' naming the image in the layout, e.g. {oci: \(path), ref: latest}")
            return nil
        }
        guard let refName = text(ref.value, "'ref' in 'from' must be the name of an image in the OCI layout") else { return nil }
        guard !refName.isEmpty else {
            fail(ref.value, "'ref' in 'from' is empty; name the image in the OCI layout")
            return nil
        }
        guard plainPath(path, node: kind.value, what: "'oci'") else { return nil }
        return OCILayoutBase(path: path, ref: refName)
    }

    fileprivate mutating func parseRootfs(_ node: Node) -> RootfsBase? {
        guard let path = text(node, "'rootfs' in 'from' must be the path of a .tar file"),
              plainPath(path, node: node, what: "'rootfs'") else { return nil }
        return RootfsBase(path: path)
    }

    fileprivate mutating func parseDebian(_ node: Node) -> DebianBase? {
        guard let pairs = mapping(node, "'debian' in 'from' must be a mapping like {suite: bookworm, variant: minbase}") else { return nil }
        rejectUnknown(pairs, allowed: Self.debianKeys, context: "in 'from: {debian: ...}'")
        let fields = Dictionary(pairs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        guard let suiteField = fields["suite"] else {
            fail(node, "'from: {debian: ...}' needs 'suite:' (for example 'suite: bookworm')")
            return nil
        }
        guard let suite = text(suiteField.value, "'suite' must be a Debian suite name like bookworm") else { return nil }
        guard !suite.isEmpty, suite.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }) else {
            fail(suiteField.value, "'\(suite)' is not a Debian suite name (like bookworm or stable)")
            return nil
        }
        var variant = "minbase"
        if let field = fields["variant"], let value = text(field.value, "'variant' must be an mmdebstrap variant like minbase") {
            if Self.debianVariants.contains(value) {
                variant = value
            } else {
                fail(field.value, "'\(value)' is not an mmdebstrap variant (one of \(Self.debianVariants.joined(separator: ", ")))\(Suggestions.hint(value, from: Self.debianVariants))")
            }
        }
        var packages: [String] = []
        if let field = fields["packages"] {
            packages = packageList(field.value, allowEmpty: true) ?? []
        }
        var mirror: String?
        if let field = fields["mirror"], let value = text(field.value, "'mirror' must be a URL like http://deb.debian.org/debian") {
            if value.hasPrefix("http://") || value.hasPrefix("https://") || value.hasPrefix("file:/") {
                mirror = value
            } else {
                fail(field.value, "'mirror: \(value)' is not an http://, https:// or file:/ URL")
            }
        }
        return DebianBase(suite: suite, variant: variant, packages: packages, mirror: mirror)
    }

    // MARK: - steps

    private mutating func parseStep(_ node: Node, number: Int) -> Step? {
        guard let pairs = mapping(node, "step \(number) must be a mapping like '- copy: site/' with 'to: /srv/app/' below it") else { return nil }
        let kinds = pairs.filter { Self.stepKinds.contains($0.key) }
        if kinds.count > 1 {
            fail(kinds[1].keyNode, "step \(number) has both '\(kinds[0].key)' and '\(kinds[1].key)'; write them as two steps")
            return nil
        }
        guard let kind = kinds.first else {
            let unknown = pairs.first { Suggestions.suggest($0.key, from: Self.stepKinds) != nil }
            if let unknown {
                fail(unknown.keyNode, "unknown key '\(unknown.key)' in step \(number)\(Suggestions.hint(unknown.key, from: Self.stepKinds))")
            } else {
                let names = Self.stepKinds.map { "'\($0)'" }
                fail(node, "step \(number) needs one of \(names.dropLast().joined(separator: ", ")) or \(names.last!)")
            }
            return nil
        }
        let entry = Self.stepTable.first { $0.name == kind.key }!
        rejectUnknown(pairs, allowed: entry.keys, context: "in a \(kind.key) step")
        let fields = Dictionary(pairs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let stepLocation = location(of: kind.keyNode)
        return entry.parse(&self, kind.value, fields, node).map { Step(number: number, location: stepLocation, provisioner: $0) }
    }

    fileprivate mutating func parseCopy(_ node: Node, fields: [String: KeyValue], stepNode: Node) -> CopyStep? {
        guard let source = text(node, "'copy' must be a file or folder path relative to images/\(name)") else { return nil }
        var ok = plainPath(source, node: node, what: "the copy source") && validateCopySource(source, node: node)
        var to: String?
        if let field = fields["to"] {
            if let value = text(field.value, "'to' must be an absolute path in the image, like /srv/app/") {
                if !plainPath(value, node: field.value, what: "'to'") {
                    ok = false
                } else if !value.hasPrefix("/") {
                    fail(field.value, "'to: \(value)' must be an absolute path in the image, like /\(value)")
                    ok = false
                } else if value.split(separator: "/").contains("..") {
                    fail(field.value, "'to: \(value)' must not contain '..'")
                    ok = false
                } else if value.split(separator: "/").contains(where: { $0.hasPrefix(".wh.") }) {
                    // The name would be read back as a deletion, not as what was copied.
                    fail(field.value, "'to: \(value)' has a name starting with '.wh.', which OCI reserves for deletions; choose another name")
                    ok = false
                } else {
                    to = value
                }
            }
        } else {
            fail(stepNode, "a copy step needs 'to:', the absolute path it copies to (end it with / to copy into a folder)")
        }
        var mode: UInt32?
        if let field = fields["mode"] {
            mode = parseMode(field.value)
            if mode == nil { ok = false }
        }
        var owner: UserSpec?
        if let field = fields["owner"] {
            owner = parseOwner(field.value)
            if owner == nil { ok = false }
        }
        guard ok, let to else { return nil }
        return CopyStep(source: source, to: to, mode: mode, owner: owner)
    }

    /// Checks that a copy source exists inside the image folder, symlinks included.
    private mutating func validateCopySource(_ source: String, node: Node) -> Bool {
        let folder = "images/\(name)"
        if source.isEmpty {
            fail(node, "'copy' is empty; name a file or folder of \(folder)")
            return false
        }
        if source.hasPrefix("/") {
            fail(node, "copy source '\(source)' must be a path relative to the image folder \(folder), not an absolute path")
            return false
        }
        var depth = 0
        for component in source.split(separator: "/") {
            if component == ".." { depth -= 1 } else if component != "." { depth += 1 }
            if depth < 0 {
                fail(node, "copy source '\(source)' is outside the image folder \(folder)")
                return false
            }
        }
        guard let realFolder = FileSystem.realPath(directory) else {
            fail(node, "the image folder \(folder) cannot be read")
            return false
        }
        let full = directory + "/" + source
        guard let real = FileSystem.realPath(full) else {
            let trimmed = String(source.reversed().drop(while: { $0 == "/" }).reversed())
            if source.hasSuffix("/"), let status = try? FileSystem.statPath(directory + "/" + trimmed), status.kind != .directory {
                fail(node, "copy source '\(source)' is a file, not a folder; drop the trailing '/'")
            } else if (try? FileSystem.lstatIfExists(directory + "/" + trimmed)) != nil {
                fail(node, "copy source '\(source)' is a symlink that leads nowhere in \(folder)")
            } else {
                fail(node, "copy source '\(source)' does not exist in \(folder)")
            }
            return false
        }
        if real != realFolder && !real.hasPrefix(realFolder.hasSuffix("/") ? realFolder : realFolder + "/") {
            fail(node, "copy source '\(source)' leads through a symlink to \(real), outside the image folder \(folder)")
            return false
        }
        // A named pipe would block whoever reads it, a device is not a file of the context.
        if let status = try? FileSystem.statPath(real), status.kind != .regular && status.kind != .directory {
            fail(node, "copy source '\(source)' is \(status.kind.article); only files, folders and symlinks can be copied")
            return false
        }
        return true
    }

    private mutating func parseMode(_ node: Node) -> UInt32? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            fail(node, "'mode' must be an octal file mode in quotes, like \"0644\"")
            return nil
        }
        var digits = Substring(scalar.string)
        if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ ("0"..."7").contains($0) }),
              let value = UInt32(digits, radix: 8), value <= 0o7777
        else {
            fail(node, "'mode: \(scalar.string)' is not an octal file mode like \"0644\" or \"4755\"")
            return nil
        }
        return value
    }

    /// `owner:` of a copy step: uid:gid or user:group; nil after a diagnostic.
    private mutating func parseOwner(_ node: Node) -> UserSpec? {
        parseUserSpec(node, key: "owner", shape: "uid:gid or user:group", examples: "\"1000:1000\" or \"app:app\"")
    }

    /// `user:` of a run step, a check or the config: a user, uid, user:group or uid:gid;
    /// nil after a diagnostic.
    private mutating func parseUser(_ node: Node) -> UserSpec? {
        parseUserSpec(node, key: "user", shape: "a user, uid, user:group or uid:gid", examples: "\"app\", \"1000\" or \"app:www\"")
    }

    /// The one reading of a user as `key: value`: never empty (an empty user is a mistake,
    /// not "the image's user"), no NUL, never the id 4294967295 (the kernel's "unchanged").
    private mutating func parseUserSpec(_ node: Node, key: String, shape: String, examples: String) -> UserSpec? {
        guard let value = text(node, "'\(key)' must be \(shape), like \(examples)") else { return nil }
        guard !value.isEmpty else {
            fail(node, "'\(key)' is empty")
            return nil
        }
        guard noNUL(value, node: node, what: "'\(key)'") else { return nil }
        do {
            return try UserSpec(parsing: value)
        } catch .reservedID {
            fail(node, UserSpec.reservedMessage("\(key): \(value)"))
        } catch {
            fail(node, "'\(key): \(value)' is not \(shape) (like \(examples))")
        }
        return nil
    }

    /// `limits: {memory: 2G, pids: 1024}` of a run step or a check; nil after a diagnostic.
    private mutating func parseLimits(_ node: Node) -> ResourceLimits? {
        guard let pairs = mapping(node, "'limits' must be a mapping like {memory: 2G, pids: 1024}") else { return nil }
        var limits = ResourceLimits()
        var ok = true
        for pair in pairs {
            guard Self.limitKeys.contains(pair.key) else {
                fail(pair.keyNode, "unknown key '\(pair.key)' in 'limits'; it takes memory and pids")
                ok = false
                continue
            }
            guard let value = text(pair.value, "'\(pair.key)' in 'limits' must be \(pair.key == "memory" ? "a size like 2G" : "a number of processes")") else {
                ok = false
                continue
            }
            do {
                if pair.key == "memory" {
                    limits.memory = try ResourceLimits.memory(parsing: value, shown: "memory: \(value)")
                } else {
                    limits.processes = try ResourceLimits.processes(parsing: value, shown: "pids: \(value)")
                }
            } catch let error as InputError {
                fail(pair.value, error.message)
                ok = false
            } catch {
                ok = false
            }
        }
        return ok ? limits : nil
    }

    fileprivate mutating func parseRun(_ node: Node, fields: [String: KeyValue]) -> RunStep? {
        guard let script = text(node, "'run' must be a shell script (use '|' for several lines)") else { return nil }
        guard !script.allSatisfy(\.isWhitespace) else {
            fail(node, "'run' is empty; give it the commands to run")
            return nil
        }
        guard noNUL(script, node: node, what: "the script of 'run'") else { return nil }
        var network = false
        if let field = fields["network"] { network = bool(field.value, "'network'") ?? false }
        var secrets: [String] = []
        if let field = fields["secrets"], let items = sequence(field.value, "'secrets' must be a list of secret ids, like [vault_token]") {
            for item in items {
                guard let id = text(item, "a secret id must be text") else { continue }
                if id.isEmpty || !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) {
                    fail(item, "'\(id)' is not a secret id (letters, digits, '_', '.' and '-')")
                } else if secrets.contains(id) {
                    fail(item, "secret '\(id)' is listed twice")
                } else {
                    secrets.append(id)
                }
            }
        }
        var ok = true
        var user: UserSpec?
        if let field = fields["user"] {
            user = parseUser(field.value)
            if user == nil { ok = false }
        }
        var limits = ResourceLimits()
        if let field = fields["limits"] {
            if let parsed = parseLimits(field.value) { limits = parsed } else { ok = false }
        }
        guard ok else { return nil }
        return RunStep(script: script, network: network, secrets: secrets, user: user, limits: limits)
    }

    fileprivate mutating func packageList(_ node: Node, allowEmpty: Bool) -> [String]? {
        guard let items = sequence(node, "'apt' must be a list of Debian packages, like [nginx, curl]") else { return nil }
        if items.isEmpty && !allowEmpty {
            fail(node, "'apt' lists no packages")
            return nil
        }
        var packages: [String] = []
        var ok = true
        for item in items {
            guard let value = text(item, "a package must be a name like nginx") else { ok = false; continue }
            let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let nameOK = parts[0].count >= 2 && parts[0].first!.isASCII && (parts[0].first!.isLowercase || parts[0].first!.isNumber)
                && parts[0].allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || "+-.".contains($0)) }
            let versionOK = parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".+~:-".contains($0)) })
            if nameOK && versionOK { packages.append(value) } else {
                fail(item, "'\(value)' is not a Debian package name (optionally with =VERSION)")
                ok = false
            }
        }
        return ok ? packages : nil
    }

    fileprivate mutating func pathList(_ node: Node) -> [String]? {
        guard let items = sequence(node, "'remove' must be a list of absolute paths, like [/usr/share/doc]") else { return nil }
        if items.isEmpty {
            fail(node, "'remove' lists no paths")
            return nil
        }
        var paths: [String] = []
        var ok = true
        for item in items {
            guard let value = text(item, "a path to remove must be an absolute path") else { ok = false; continue }
            let components = value.split(separator: "/")
            if !plainPath(value, node: item, what: "a path to remove") {
                ok = false
            } else if !value.hasPrefix("/") {
                fail(item, "'\(value)' must be an absolute path in the image, like /\(value)")
                ok = false
            } else if components.contains("..") {
                fail(item, "'\(value)' must not contain '..'")
                ok = false
            } else if components.allSatisfy({ $0 == "." }) {
                fail(item, "'remove' cannot remove the root folder /")
                ok = false
            } else {
                paths.append(value)
            }
        }
        return ok ? paths : nil
    }

    // MARK: - config and checks

    private mutating func parseConfig(_ node: Node) -> ConfigPatch {
        var patch = ConfigPatch()
        guard let pairs = mapping(node, "'config' must be a mapping of image settings (env, workdir, user, entrypoint, cmd, ports, labels, stopSignal, healthcheck, volumes)") else { return patch }
        rejectUnknown(pairs, allowed: Self.configKeys, context: "in 'config'")
        for pair in pairs {
            switch pair.key {
            case "env":
                guard let entries = mapping(pair.value, "'env' must be a mapping of variables, like {APP_ENV: production}") else { continue }
                for entry in entries {
                    if !Self.isEnvironmentName(entry.key) {
                        fail(entry.keyNode, "'\(entry.key)' is not an environment variable name (letters, digits and '_', not starting with a digit)")
                    } else if case .scalar(let scalar) = entry.value {
                        guard noNUL(scalar.string, node: entry.value, what: "the value of \(entry.key)") else { continue }
                        patch.env.append((entry.key, isNull(entry.value) ? nil : scalar.string))
                    } else {
                        fail(entry.value, "the value of \(entry.key) must be text, not \(describe(entry.value))")
                    }
                }
            case "workdir":
                if let value = text(pair.value, "'workdir' must be an absolute path"), plainPath(value, node: pair.value, what: "'workdir'") {
                    if value.hasPrefix("/") { patch.workdir = value } else {
                        fail(pair.value, "'workdir: \(value)' must be an absolute path, like /\(value)")
                    }
                }
            case "user":
                if case .scalar(let scalar) = pair.value, !isNull(pair.value), scalar.string.isEmpty { continue }
                if parseUser(pair.value) != nil, case .scalar(let scalar) = pair.value { patch.user = scalar.string }
            case "entrypoint", "cmd":
                let example = pair.key == "entrypoint" ? "[/usr/local/bin/boot]" : "[nginx, -g, daemon off;]"
                guard let items = sequence(pair.value, "'\(pair.key)' must be a list, like \(example); use [] for none") else { continue }
                var words: [String] = []
                for item in items {
                    if case .scalar(let scalar) = item, !isNull(item) {
                        if noNUL(scalar.string, node: item, what: "an element of '\(pair.key)'") { words.append(scalar.string) }
                    } else {
                        fail(item, "each element of '\(pair.key)' must be text, not \(describe(item))")
                    }
                }
                if pair.key == "entrypoint" { patch.entrypoint = words } else { patch.cmd = words }
            case "ports":
                guard let items = sequence(pair.value, "'ports' must be a list, like [8080] or [\"53/udp\"]") else { continue }
                var ports: [String] = []
                for item in items {
                    if let port = parsePort(item) { ports.append(port) }
                }
                patch.ports = ports
            case "labels":
                guard let entries = mapping(pair.value, "'labels' must be a mapping, like {org.opencontainers.image.title: app}") else { continue }
                for entry in entries {
                    if entry.key.isEmpty {
                        fail(entry.keyNode, "a label name cannot be empty")
                    } else if !noNUL(entry.key, node: entry.keyNode, what: "a label name") {
                        continue
                    } else if case .scalar(let scalar) = entry.value {
                        guard noNUL(scalar.string, node: entry.value, what: "the value of label \(entry.key)") else { continue }
                        patch.labels.append((entry.key, isNull(entry.value) ? nil : scalar.string))
                    } else {
                        fail(entry.value, "the value of label \(entry.key) must be text, not \(describe(entry.value))")
                    }
                }
            case "stopSignal":
                if let value = text(pair.value, "'stopSignal' must be a signal name like SIGTERM") {
                    if let signal = Self.normalizedSignal(value) { patch.stopSignal = signal } else {
                        fail(pair.value, "'\(value)' is not a signal name like SIGTERM or SIGQUIT")
                    }
                }
            case "healthcheck":
                if let healthcheck = parseHealthcheck(pair.value) { patch.healthcheck = healthcheck }
            case "volumes":
                guard let items = sequence(pair.value, "'volumes' must be a list of absolute paths, like [/var/lib/app]") else { continue }
                var volumes: [String] = []
                var ok = true
                for item in items {
                    guard let value = text(item, "a volume must be an absolute path in the image, like /var/lib/app"),
                          plainPath(value, node: item, what: "a volume") else { ok = false; continue }
                    // Cleaned as every image path is ("/a/./b/" is /a/b); ".." refused.
                    let path = try? RelativePath(value, allowAbsolute: true)
                    let cleaned = path?.absoluteDescription ?? value
                    if !value.hasPrefix("/") {
                        fail(item, "the volume '\(value)' must be an absolute path, like /\(value)")
                        ok = false
                    } else if path == nil {
                        fail(item, "the volume '\(value)' must not contain '..'")
                        ok = false
                    } else if path?.isRoot == true {
                        fail(item, "a volume cannot be the image's root folder /")
                        ok = false
                    } else if volumes.contains(cleaned) {
                        fail(item, "the volume \(cleaned) is listed twice")
                        ok = false
                    } else {
                        volumes.append(cleaned)
                    }
                }
                if ok { patch.volumes = volumes }
            default:
                break
            }
        }
        return patch
    }

    /// `healthcheck: {test: ..., interval: 30s, timeout: 5s, startPeriod: 10s, retries: 3}`:
    /// `test` is a shell command (CMD-SHELL) or a list starting with CMD, CMD-SHELL or NONE.
    private mutating func parseHealthcheck(_ node: Node) -> Healthcheck? {
        guard let pairs = mapping(node, "'healthcheck' must be a mapping like {test: \"curl -f http://localhost/\", interval: 30s}") else { return nil }
        rejectUnknown(pairs, allowed: Self.healthcheckKeys, context: "in 'healthcheck'")
        var ok = pairs.allSatisfy { Self.healthcheckKeys.contains($0.key) }
        var healthcheck = Healthcheck(test: [])
        var hasTest = false
        for pair in pairs {
            switch pair.key {
            case "test":
                guard let test = parseHealthcheckTest(pair.value) else { ok = false; continue }
                healthcheck.test = test
                hasTest = true
            case "interval", "timeout", "startPeriod":
                guard let value = text(pair.value, "'\(pair.key)' must be a duration like 30s, 1m30s or 500ms") else { ok = false; continue }
                guard let nanoseconds = Duration.nanoseconds(value) else {
                    fail(pair.value, "'\(pair.key): \(value)' is not a duration like 30s, 1m30s or 500ms")
                    ok = false
                    continue
                }
                // Docker refuses less than a millisecond (0 would mean "the default").
                guard nanoseconds >= 1_000_000 else {
                    fail(pair.value, "'\(pair.key): \(value)' must be at least 1ms")
                    ok = false
                    continue
                }
                switch pair.key {
                case "interval": healthcheck.interval = nanoseconds
                case "timeout": healthcheck.timeout = nanoseconds
                default: healthcheck.startPeriod = nanoseconds
                }
            case "retries":
                guard let value = text(pair.value, "'retries' must be a number like 3") else { ok = false; continue }
                // Docker reads 0 as "the default" (3): a number from 1 says what it means.
                guard let retries = Int(value), (1...1_000_000).contains(retries) else {
                    fail(pair.value, "'retries: \(value)' is not a number of retries from 1 to 1000000")
                    ok = false
                    continue
                }
                healthcheck.retries = retries
            default:
                break
            }
        }
        if !hasTest, ok {
            fail(node, "'healthcheck' needs 'test:', the command that says the container works (or [NONE] for no check)")
            return nil
        }
        return ok ? healthcheck : nil
    }

    private mutating func parseHealthcheckTest(_ node: Node) -> [String]? {
        if case .scalar(let scalar) = node, !isNull(node) {
            guard !scalar.string.allSatisfy(\.isWhitespace) else {
                fail(node, "'test' of 'healthcheck' is empty; give a shell command or [NONE]")
                return nil
            }
            guard noNUL(scalar.string, node: node, what: "'test' of 'healthcheck'") else { return nil }
            return ["CMD-SHELL", scalar.string]
        }
        guard let items = sequence(node, "'test' of 'healthcheck' must be a shell command or a list like [CMD, /bin/check]") else { return nil }
        var words: [String] = []
        for item in items {
            guard case .scalar(let scalar) = item, !isNull(item) else {
                fail(item, "each element of 'test' must be text, not \(describe(item))")
                return nil
            }
            guard noNUL(scalar.string, node: item, what: "an element of 'test'") else { return nil }
            words.append(scalar.string)
        }
        guard let kind = words.first else {
            fail(node, "'test' of 'healthcheck' is empty; give a shell command, [CMD, PROGRAM, ...] or [NONE]")
            return nil
        }
        switch kind {
        case "NONE" where words.count == 1, "CMD" where words.count > 1, "CMD-SHELL" where words.count == 2:
            return words
        case "NONE":
            fail(items[1], "'NONE' in 'test' takes nothing after it")
        case "CMD":
            fail(items[0], "'CMD' in 'test' needs the program to run after it, like [CMD, /bin/check]")
        case "CMD-SHELL":
            fail(items[0], "'CMD-SHELL' in 'test' takes exactly one shell command after it")
        default:
            fail(items[0], "the first element of 'test' must be CMD, CMD-SHELL or NONE, not '\(kind)'")
        }
        return nil
    }

    private mutating func parsePort(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            fail(node, "a port must be a number like 8080 or text like \"53/udp\"")
            return nil
        }
        let parts = scalar.string.split(separator: "/", omittingEmptySubsequences: false)
        let proto = parts.count == 2 ? parts[1].lowercased() : "tcp"
        guard parts.count <= 2, let number = Int(parts[0]), (1...65_535).contains(number),
              ["tcp", "udp", "sctp"].contains(proto)
        else {
            fail(node, "'\(scalar.string)' is not a port like 8080, \"8080/tcp\" or \"53/udp\"")
            return nil
        }
        return "\(number)/\(proto)"
    }

    private mutating func parseCheck(_ node: Node) -> Check? {
        guard let pairs = mapping(node, "a check must be a mapping like '- run: nginx -t'") else { return nil }
        rejectUnknown(pairs, allowed: Self.checkKeys, context: "in a check")
        let fields = Dictionary(pairs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        guard let run = fields["run"] else {
            fail(node, "a check needs 'run:', the command that must succeed in the finished image")
            return nil
        }
        guard let script = text(run.value, "'run' of a check must be a shell command"), !script.allSatisfy(\.isWhitespace) else {
            if case .scalar = run.value { fail(run.value, "'run' of a check is empty") }
            return nil
        }
        guard noNUL(script, node: run.value, what: "the script of a check") else { return nil }
        var ok = true
        var user: UserSpec?
        if let field = fields["user"] {
            user = parseUser(field.value)
            if user == nil { ok = false }
        }
        var limits = ResourceLimits()
        if let field = fields["limits"] {
            if let parsed = parseLimits(field.value) { limits = parsed } else { ok = false }
        }
        guard ok else { return nil }
        return Check(script: script, user: user, limits: limits, location: location(of: run.keyNode))
    }

    // MARK: - Node helpers

    /// Text that reaches a C string (an environment entry, a user name) or a JSON value
    /// runtimes read as one cannot hold a NUL: everything after it would silently vanish.
    private mutating func noNUL(_ value: String, node: Node, what: String) -> Bool {
        guard value.utf8.contains(0) else { return true }
        fail(node, "\(what) contains a NUL byte, which an image cannot hold")
        return false
    }

    /// Paths are plain text: a NUL or another control character (possible with YAML's
    /// "\0" escapes) would name one file to the file system and another to a tar reader.
    private mutating func plainPath(_ value: String, node: Node, what: String) -> Bool {
        guard let bad = value.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return true }
        fail(node, "\(what) contains the control character U+\(String(format: "%04X", bad.value)); paths must be plain text")
        return false
    }

    struct KeyValue {
        let key: String
        let keyNode: Node
        let value: Node
    }

    private mutating func mapping(_ node: Node, _ message: String) -> [KeyValue]? {
        guard case .mapping(let mapping) = node else {
            fail(node, "\(message), not \(describe(node))")
            return nil
        }
        var pairs: [KeyValue] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                fail(key, "a key must be plain text, not \(describe(key))")
                continue
            }
            pairs.append(KeyValue(key: scalar.string, keyNode: key, value: value))
        }
        return pairs
    }

    private mutating func sequence(_ node: Node, _ message: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            fail(node, "\(message), not \(describe(node))")
            return nil
        }
        return Array(sequence)
    }

    private mutating func text(_ node: Node, _ message: String) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            fail(node, "\(message), not \(describe(node))")
            return nil
        }
        return scalar.string
    }

    private mutating func bool(_ node: Node, _ what: String) -> Bool? {
        if case .scalar(let scalar) = node {
            switch scalar.string {
            case "true": return true
            case "false": return false
            default: break
            }
        }
        fail(node, "\(what) must be true or false, not \(describe(node))")
        return nil
    }

    private mutating func rejectUnknown(_ pairs: [KeyValue], allowed: [String], context: String) {
        for pair in pairs where !allowed.contains(pair.key) {
            fail(pair.keyNode, "unknown key '\(pair.key)' \(context)\(Suggestions.hint(pair.key, from: allowed))")
        }
    }

    private func isNull(_ node: Node) -> Bool {
        // node.tag is the resolved tag; a quoted "null" or "~" stays text.
        if case .scalar(let scalar) = node {
            return node.tag.rawValue == Tag.Name.null.rawValue && scalar.style == .plain
        }
        return false
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull(node) { return "empty" }
            switch node.tag.rawValue {
            case Tag.Name.int.rawValue, Tag.Name.float.rawValue: return "the number \(scalar.string)"
            case Tag.Name.bool.rawValue: return "\(scalar.string)"
            default: return "'\(scalar.string)'"
            }
        }
    }

    private mutating func fail(_ node: Node, _ message: String) {
        diagnostics.append(Diagnostic(location(of: node), message))
    }

    private func location(of node: Node) -> SourceLocation {
        let mark = node.mark
        return location(mark?.line ?? 1, mark?.column ?? 1)
    }

    private func location(_ line: Int, _ column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    /// Where a key is written a second time (libyaml only tells where its mapping starts).
    private func secondOccurrence(of key: String, in yaml: String, after line: Int) -> (Int, Int)? {
        var seen = 0
        for (index, text) in yaml.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where index + 1 >= line {
            var rest = Substring(text)
            var column = 1
            while let first = rest.first, first == " " || first == "-" || first == "{" || first == "," {
                rest = rest.dropFirst()
                column += 1
            }
            let bare = rest.hasPrefix("\(key):") || rest.hasPrefix("\"\(key)\":") || rest.hasPrefix("'\(key)':")
            if bare {
                seen += 1
                if seen == 2 { return (index + 1, column) }
            }
        }
        return nil
    }

    private func yamlDiagnostic(_ error: YamlError) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let while_ = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return Diagnostic(location(mark.line, mark.column), "YAML syntax error: \(problem)\(while_)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let place = secondOccurrence(of: duplicates.first ?? "", in: yaml, after: context.mark.line)
                ?? (context.mark.line, context.mark.column)
            return Diagnostic(location(place.0, place.1),
                              "key '\(duplicates.joined(separator: "', '"))' appears twice in the same mapping")
        case .reader(let problem, _, _, _):
            return Diagnostic(location(1, 1), "the stage file is not readable text: \(problem)")
        default:
            return Diagnostic(location(1, 1), "cannot read YAML: \(error)")
        }
    }

    // MARK: - Names

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    static let signals = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ]

    static func normalizedSignal(_ value: String) -> String? {
        if let number = Int(value), (1...64).contains(number) { return value }
        let upper = value.uppercased()
        let name = upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
        if signals.contains(name) { return "SIG" + name }
        if name.hasPrefix("RTMIN+") || name.hasPrefix("RTMAX-"), let offset = Int(name.dropFirst(6)), (0...15).contains(offset) {
            return "SIG" + name
        }
        return nil
    }
}
