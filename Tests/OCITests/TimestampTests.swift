import Testing
@testable import OCI

@Suite struct TimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (Int64(1_700_000_000), "2023-11-14T22:13:20Z"),
        (Int64(951_782_400), "2000-02-29T00:00:00Z"),
        (Int64(253_402_300_799), "9999-12-31T23:59:59Z"),
        (Int64(-1), "1969-12-31T23:59:59Z"),
    ])
    func formatsRFC3339(seconds: Int64, text: String) {
        #expect(Timestamp.rfc3339(seconds) == text)
        #expect(Timestamp.parseRFC3339(text) == seconds)
    }

    @Test func parsesOffsetsAndFractions() {
        #expect(Timestamp.parseRFC3339("2023-11-14T23:13:20+01:00") == 1_700_000_000)
        #expect(Timestamp.parseRFC3339("2023-11-14T22:13:20.123456789Z") == 1_700_000_000)
        #expect(Timestamp.parseRFC3339("2023-11-14 22:13:20") == nil)
        #expect(Timestamp.parseRFC3339("not a time") == nil)
    }
}
