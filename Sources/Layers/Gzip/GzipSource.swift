import CZlib

/// Decompresses a gzip stream (one or more members) read from `upstream`.
public final class GzipSource: ByteSource {
    private let upstream: ByteSource
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var inputEnded = false
    private var memberEnded = false
    private var sawMember = false
    private let what: String

    /// Reads gzip from `upstream`; `what` names the stream in errors.
    public init(upstream: ByteSource, describedAs what: String) throws {
        self.upstream = upstream
        self.what = what
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        // windowBits 15 + 16: gzip wrapper only.
        guard bake_inflateInit2(stream, 15 + 16) == Z_OK else {
            stream.deallocate()
            input.deallocate()
            throw LayersError.compression("zlib inflateInit2 failed")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    private func refill() throws {
        let got = try upstream.read(into: input)
        if got == 0 {
            inputEnded = true
        }
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(got)
    }

    public func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        guard destination.count > 0 else { return 0 }
        while true {
            if stream.pointee.avail_in == 0 && !inputEnded { try refill() }
            if memberEnded {
                if stream.pointee.avail_in == 0 && inputEnded { return 0 }
                // Another gzip member follows; anything else is trailing garbage.
                if stream.pointee.avail_in > 0 && stream.pointee.next_in.pointee != 0x1f {
                    throw LayersError.compression("\(what) has trailing bytes after its gzip stream")
                }
                if stream.pointee.avail_in == 0 { continue }
                inflateReset(stream)
                memberEnded = false
            }
            if stream.pointee.avail_in == 0 && inputEnded {
                throw LayersError.compression(sawMember ? "\(what) is truncated" : "\(what) is empty, not gzip data")
            }
            stream.pointee.next_out = destination.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(destination.count)
            let rc = inflate(stream, Z_NO_FLUSH)
            let produced = destination.count - Int(stream.pointee.avail_out)
            sawMember = true
            switch rc {
            case Z_STREAM_END:
                memberEnded = true
                if produced > 0 { return produced }
            case Z_OK:
                if produced > 0 { return produced }
            case Z_BUF_ERROR:
                if inputEnded && stream.pointee.avail_in == 0 {
                    throw LayersError.compression("\(what) is truncated")
                }
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw LayersError.compression("\(what): \(message)")
            }
        }
    }
}
