import CZlib

/// One zlib raw-deflate stream, reused block after block (`deflateReset`). zlib keeps a
/// pointer back to its `z_stream`, so the struct lives at a fixed address.
final class DeflateStream {
    private let stream: UnsafeMutablePointer<z_stream>

    init(level: Int32) throws {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // windowBits -15: raw deflate (the gzip header and trailer are written by GzipSink);
        // memLevel 8 and the default strategy are zlib's defaults, fixed here on purpose.
        let rc = bake_deflateInit2(stream, level, -15, 8, Z_DEFAULT_STRATEGY)
        guard rc == Z_OK else {
            stream.deallocate()
            throw LayersError.compression("zlib deflateInit2 failed (\(rc))")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses one block. Non-final blocks end with a sync flush (byte aligned, not
    /// final), so blocks concatenate into one valid deflate stream; the final block finishes it.
    func compress(_ input: [UInt8], dictionary: [UInt8], final: Bool) throws -> [UInt8] {
        guard deflateReset(stream) == Z_OK else { throw LayersError.compression("zlib deflateReset failed") }
        if !dictionary.isEmpty {
            let rc = dictionary.withUnsafeBufferPointer {
                deflateSetDictionary(stream, $0.baseAddress, uInt($0.count))
            }
            guard rc == Z_OK else { throw LayersError.compression("zlib deflateSetDictionary failed (\(rc))") }
        }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, uLong(input.count))) + 64)
        var produced = 0
        try input.withUnsafeBufferPointer { inBuffer in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.pointee.avail_in = uInt(inBuffer.count)
            while true {
                if produced == output.count { output.append(contentsOf: [UInt8](repeating: 0, count: output.count)) }
                let rc = output.withUnsafeMutableBufferPointer { outBuffer -> Int32 in
                    stream.pointee.next_out = outBuffer.baseAddress! + produced
                    stream.pointee.avail_out = uInt(outBuffer.count - produced)
                    let rc = deflate(stream, final ? Z_FINISH : Z_SYNC_FLUSH)
                    produced = outBuffer.count - Int(stream.pointee.avail_out)
                    return rc
                }
                if final {
                    if rc == Z_STREAM_END { break }
                    guard rc == Z_OK || rc == Z_BUF_ERROR else { throw LayersError.compression("zlib deflate failed (\(rc))") }
                } else {
                    guard rc == Z_OK || rc == Z_BUF_ERROR else { throw LayersError.compression("zlib deflate failed (\(rc))") }
                    if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { break }
                }
            }
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        output.removeSubrange(produced...)
        return output
    }
}
