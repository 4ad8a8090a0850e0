/// The 512-byte ustar header as a table of field ranges.
/// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06
enum TarHeader {
    static let blockSize = 512

    enum Field {
        static let name = 0..<100
        static let mode = 100..<108
        static let uid = 108..<116
        static let gid = 116..<124
        static let size = 124..<136
        static let mtime = 136..<148
        static let checksum = 148..<156
        static let typeflag = 156
        static let linkname = 157..<257
        static let magic = 257..<263
        static let version = 263..<265
        static let uname = 265..<297
        static let gname = 297..<329
        static let devmajor = 329..<337
        static let devminor = 337..<345
        static let prefix = 345..<500
    }

    enum TypeFlag {
        static let regular = UInt8(ascii: "0")
        static let regularOld = UInt8(0)
        static let hardlink = UInt8(ascii: "1")
        static let symlink = UInt8(ascii: "2")
        static let character = UInt8(ascii: "3")
        static let block = UInt8(ascii: "4")
        static let directory = UInt8(ascii: "5")
        static let fifo = UInt8(ascii: "6")
        static let contiguous = UInt8(ascii: "7")
        static let paxLocal = UInt8(ascii: "x")
        static let paxGlobal = UInt8(ascii: "g")
        static let gnuLongName = UInt8(ascii: "L")
        static let gnuLongLink = UInt8(ascii: "K")
    }

    /// "ustar\0" + "00": POSIX ustar, the base of PAX.
    static let ustarMagic: [UInt8] = Array("ustar\u{0}".utf8)
    static let ustarVersion: [UInt8] = Array("00".utf8)
    /// "ustar  \0": old GNU format, accepted when reading.
    static let gnuMagic: [UInt8] = Array("ustar  \u{0}".utf8)

    /// Largest value an octal field of `width` bytes holds (width-1 digits and a NUL).
    static func maxOctal(width: Int) -> Int64 {
        (Int64(1) << (3 * Int64(width - 1))) - 1
    }

    /// Writes `value` as zero-padded octal, NUL-terminated, into `range`.
    static func putOctal(_ value: Int64, _ range: Range<Int>, into block: inout [UInt8]) {
        let width = range.count
        precondition(value >= 0 && value <= maxOctal(width: width), "value out of range for an octal field")
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width - 1)
        var remaining = value
        var index = width - 2
        while remaining > 0 && index >= 0 {
            digits[index] = UInt8(ascii: "0") + UInt8(remaining & 7)
            remaining >>= 3
            index -= 1
        }
        for (offset, digit) in digits.enumerated() { block[range.lowerBound + offset] = digit }
        block[range.upperBound - 1] = 0
    }

    /// Copies up to `range.count` bytes into the field (the rest stays NUL).
    static func putBytes(_ bytes: [UInt8], _ range: Range<Int>, into block: inout [UInt8]) {
        for (offset, byte) in bytes.prefix(range.count).enumerated() { block[range.lowerBound + offset] = byte }
    }

    /// Computes and stores the checksum: six octal digits, NUL, space.
    static func putChecksum(into block: inout [UInt8]) {
        for index in Field.checksum { block[index] = UInt8(ascii: " ") }
        let sum = block.reduce(Int64(0)) { $0 + Int64($1) }
        putOctal(sum, Field.checksum.lowerBound..<(Field.checksum.lowerBound + 7), into: &block)
        block[Field.checksum.upperBound - 1] = UInt8(ascii: " ")
    }

    /// Parses a numeric field: octal (space or NUL padded) or GNU base-256.
    static func number(_ block: [UInt8], _ range: Range<Int>) -> Int64? {
        let field = block[range]
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            // base-256: big-endian two's complement in the remaining bits.
            let negative = first & 0x40 != 0
            var value: Int64 = negative ? -1 : 0
            for (offset, byte) in field.enumerated() {
                let bits = offset == 0 ? (byte & 0x7f) | (negative ? 0x80 : 0) : byte
                guard value >> 55 == 0 || value >> 55 == -1 else { return nil }
                value = (value << 8) | Int64(bits)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") {
                if seenDigit { break }
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { return nil }
            seenDigit = true
            guard value >> 60 == 0 else { return nil }
            value = value * 8 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Bytes of a string field up to its first NUL.
    static func string(_ block: [UInt8], _ range: Range<Int>) -> [UInt8] {
        let field = block[range]
        if let nul = field.firstIndex(of: 0) { return Array(field[field.startIndex..<nul]) }
        return Array(field)
    }

    /// True when the checksum field matches the header (unsigned or historic signed sum).
    static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard let stored = number(block, Field.checksum) else { return false }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = Field.checksum.contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        return stored == unsigned || stored == signed
    }
}
