import Foundation
import Testing
@testable import Provisioners

/// What step output hides of the secrets a step was given.
struct SecretMaskTests {
    static func mask(_ line: String, _ values: [String]) -> String {
        var result = line
        for mask in ShellScript.masks(for: values.map { Secret(id: "s", value: Array($0.utf8)) }) {
            result = result.replacingOccurrences(of: mask, with: "****")
        }
        return result
    }

    @Test func aValueIsHiddenWithOrWithoutItsTrailingNewline() {
        #expect(Self.mask("token=abc123 ok", ["abc123"]) == "token=**** ok")
        #expect(Self.mask("token=abc123 ok", ["abc123\n"]) == "token=**** ok")
        #expect(Self.mask("token=abc123 ok", ["abc123\r\n"]) == "token=**** ok")
        // A short single value is still hidden.
        #expect(Self.mask("pin 42!", ["42"]) == "pin ****!")
    }

    @Test func everyLineOfAMultiLineValueIsHidden() {
        let key = "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAUEwggE9AgEAAkEA\nab\n-----END KEY-----\n"
        #expect(Self.mask("MIIBVwIBADANBgkqhkiG9w0BAQEFAASCAUEwggE9AgEAAkEA", [key]) == "****")
        #expect(Self.mask("-----BEGIN KEY-----", [key]) == "****")
        // Fragments shorter than 4 characters would blank out ordinary words: left alone.
        #expect(Self.mask("about", [key]) == "about")
    }
}
