import CZlib
import Dispatch
import Glibc

/// A deterministic, parallel gzip compressor.
///
/// The input is cut into fixed 128 KiB blocks; each block is deflated on its own, primed
/// with the 32 KiB that precede it (as pigz does), and the blocks are written in order.
/// Every block's bytes depend only on its input, its dictionary and the level, so the
/// output is identical whether 1 or 64 threads compress it. The gzip header is fixed:
/// mtime 0, no file name, XFL 0, OS 255 ("unknown"), so nothing of the host leaks in.
public final class GzipSink: ByteSink {
    /// Uncompressed bytes per block. Fixed: changing it changes every layer digest.
    public static let blockSize = 128 << 10
    /// Bytes of history each block is primed with (deflate's full window).
    static let dictionarySize = 32 << 10
    /// The gzip header: magic, CM=8 (deflate), FLG=0, MTIME=0, XFL=0, OS=255.
    static let header: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]

    private let downstream: ByteSink
    private let level: Int32
    private let threads: Int
    /// One deflate stream per job that can be in flight at once (see `submit`): a stream is
    /// given to one job at a time and comes back when that job has been drained.
    private var streams: [DeflateStream?]
    private var submitted = 0
    private var current: [UInt8] = []
    private var dictionary: [UInt8] = []
    private var pending: [DeflateJob] = []
    private var crc: uLong = crc32(0, nil, 0)
    private var totalIn: UInt64 = 0
    private var headerWritten = false
    private var finished = false

    /// Compresses into `downstream` at `level` (zlib 0-9) using up to `threads` threads.
    public init(downstream: ByteSink, level: Int32 = 6, threads: Int = GzipSink.defaultThreads) {
        self.downstream = downstream
        self.level = level
        self.threads = max(1, threads)
        self.streams = Array(repeating: nil, count: self.threads * 3 + 1)
        current.reserveCapacity(Self.blockSize)
    }

    deinit {
        // A sink abandoned mid-stream (an error upstream) must not leave work running.
        for job in pending { job.wait() }
    }

    /// The number of online CPUs. Only speed depends on it, never the bytes.
    public static var defaultThreads: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let take = min(Self.blockSize - current.count, bytes.count - offset)
            current.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            if current.count == Self.blockSize { try submit(final: false) }
        }
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        try submit(final: true)
        while !pending.isEmpty { try drainOne() }
        try writeHeaderIfNeeded()
        var trailer: [UInt8] = []
        let crcValue = UInt32(truncatingIfNeeded: crc)
        let size = UInt32(truncatingIfNeeded: totalIn)  // ISIZE is the length modulo 2^32
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: crcValue >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
        try downstream.write(trailer)
        try downstream.finish()
    }

    private func submit(final: Bool) throws {
        // At most threads * 3 jobs are pending when a job is submitted, and they are the
        // last ones submitted: slots taken modulo threads * 3 + 1 never meet in flight.
        let slot = submitted % streams.count
        submitted += 1
        let stream = try streams[slot] ?? DeflateStream(level: level)
        streams[slot] = stream
        let job = DeflateJob(input: current, dictionary: dictionary, final: final, stream: stream)
        if current.count >= Self.dictionarySize {
            dictionary = Array(current.suffix(Self.dictionarySize))
        } else {
            dictionary = Array((dictionary + current).suffix(Self.dictionarySize))
        }
        current = []
        current.reserveCapacity(Self.blockSize)
        if threads == 1 {
            job.run()
        } else {
            DispatchQueue.global().async { job.run() }
        }
        pending.append(job)
        while pending.count > threads * 3 { try drainOne() }
    }

    private func drainOne() throws {
        let job = pending.removeFirst()
        job.wait()
        if let error = job.error { throw error }
        try writeHeaderIfNeeded()
        try downstream.write(job.output)
        crc = crc32_combine(crc, job.crc, off_t(job.input.count))
        totalIn &+= UInt64(job.input.count)
    }

    private func writeHeaderIfNeeded() throws {
        guard !headerWritten else { return }
        headerWritten = true
        try downstream.write(Self.header)
    }
}

/// One block's work: deflate it and compute its CRC-32.
final class DeflateJob: @unchecked Sendable {
    let input: [UInt8]
    let dictionary: [UInt8]
    let final: Bool
    /// The stream this job alone uses until it is waited for.
    private let stream: DeflateStream
    // Written by the worker before `done` is signalled, read by the owner after waiting.
    var output: [UInt8] = []
    var crc: uLong = 0
    var error: (any Error)?
    private let done = DispatchSemaphore(value: 0)
    private var waited = false

    init(input: [UInt8], dictionary: [UInt8], final: Bool, stream: DeflateStream) {
        self.input = input
        self.dictionary = dictionary
        self.final = final
        self.stream = stream
    }

    func run() {
        do {
            output = try stream.compress(input, dictionary: dictionary, final: final)
            crc = input.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        } catch {
            self.error = error
        }
        done.signal()
    }

    func wait() {
        guard !waited else { return }
        done.wait()
        waited = true
    }
}
