import Diagnostics
import Layers
import Provisioners

/// A place in a stage file.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file, relative to the project folder (`images/app/stage.yaml`).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }
}
