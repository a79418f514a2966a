import Testing
@testable import GatherSystem

@Suite struct ByteWriterTests {
    @Test func decimalsAreWhatStringWrites() {
        let signed: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, 1_000_000, -987_654_321, Int64.max, Int64.min, Int64.min + 1]
        let unsigned: [UInt64] = [0, 1, 9, 10, 4_294_967_295, 4_294_967_296, 10_000_000_000_000_000_000, UInt64.max, UInt64.max - 1]
        for value in signed {
            var writer = ByteWriter()
            writer.append(decimal: value)
            #expect(writer.bytes == Array(String(value).utf8), "\(value)")
        }
        for value in unsigned {
            var writer = ByteWriter()
            writer.append(decimal: value)
            #expect(writer.bytes == Array(String(value).utf8), "\(value)")
        }
        var both = ByteWriter()
        both.append(decimal: Int64.min)
        both.append(UInt8(ascii: " "))
        both.append(decimal: UInt64.max)
        #expect(both.bytes == Array("-9223372036854775808 18446744073709551615".utf8))
    }

    @Test func textGoesInAsUTF8() {
        var writer = ByteWriter(capacity: 16)
        writer.append("static é ")
        writer.append(utf8: "short ")
        writer.append(utf8: "a native string longer than fifteen bytes, é 🚀 \u{2028} ")
        writer.append(utf8: "")
        writer.append(contentsOf: [0x41, 0x42])
        writer.append(contentsOf: "CD".utf8)
        writer.append(contentsOf: ([] as [UInt8]))
        writer.append(UInt8(ascii: "\n"))
        let expected = "static é short a native string longer than fifteen bytes, é 🚀 \u{2028} ABCD\n"
        #expect(writer.bytes == Array(expected.utf8))
        #expect(writer.count == expected.utf8.count)
    }

    @Test func repeatedBytesAndCapacity() {
        var writer = ByteWriter()
        writer.reserveCapacity(100)
        writer.append(repeating: UInt8(ascii: " "), count: 0)
        writer.append(repeating: UInt8(ascii: " "), count: -1)
        #expect(writer.bytes.isEmpty)
        writer.append(repeating: UInt8(ascii: " "), count: 6)
        writer.append(UInt8(ascii: "x"))
        #expect(writer.bytes == Array("      x".utf8))
        // A copy of the bytes is a value: writing on does not change it.
        let taken = writer.bytes
        writer.append("y")
        #expect(taken == Array("      x".utf8))
        #expect(writer.bytes == Array("      xy".utf8))
    }
}
