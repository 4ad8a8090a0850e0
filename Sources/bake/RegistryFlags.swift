import ArgumentParser

/// How push and retag reach the registry they name.
struct RegistryFlags: ParsableArguments {
    @Flag(help: "Allow plain HTTP and TLS certificates that do not verify.")
    var insecure = false

    @Option(help: ArgumentHelp("Credentials for the registry.", valueName: "USER:PASS"))
    var creds: String?
}
