/// `from: scratch`: nothing below the first step; an empty root, time 0 unless
/// SOURCE_DATE_EPOCH says otherwise.
public struct ScratchBase: BaseSource, Hashable {
    public static let kind = "scratch"

    public init() {}

    public var description: String { "scratch" }

    public func current(_ context: BaseContext) throws -> BasePin { BasePin() }

    public func importImage(_ pin: BasePin, _ context: BaseContext) throws -> BaseImport { .empty }
}
