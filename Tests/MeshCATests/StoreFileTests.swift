import Foundation
import Testing

@testable import MeshCA

/// The file primitives an enrollment server uses in every batch.
@Suite struct StoreFileTests {
    let scratch = ScratchDirectory("meshca-store-files")

    init() throws {
        try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
    }

    /// Bytes allocated to `file`, past its end too.
    static func allocated(_ file: String) -> Int {
        var info = stat()
        return stat(file, &info) == 0 ? Int(info.st_blocks) * 512 : -1
    }

    /// A stamp that reads no times still tells an append, and a replacement by a file of the same size, from no
    /// change.
    @Test func untimedStampsSeeAppendsAndReplacements() throws {
        let file = scratch.path + "/index.txt"
        try FileBatch.perform(durable: false) { try $0.stage(file, "V\trow\n", mode: 0o644) }
        let first = FileStamp(untimed: file)
        #expect(first.size == 6)
        #expect(FileStamp(untimed: file) == first)
        try FileBatch.append(file, Array("R\trow\n".utf8), durably: false)
        let appended = FileStamp(untimed: file)
        #expect(appended.size == 12 && appended != first)
        try FileBatch.perform(durable: false) { try $0.stage(file, "V\trow\nV\trow\n", mode: 0o644) }
        let replaced = FileStamp(untimed: file)
        #expect(replaced.size == 12 && replaced != appended)
        #expect(FileStamp(untimed: scratch.path + "/missing").size == -1)
    }

    /// Room reserved ahead of the appends is used up before more is reserved.
    @Test func appendsAreReservedAheadOnce() throws {
        let file = scratch.path + "/000001.pem"
        try FileBatch.perform(durable: false) { try $0.stage(file, String(repeating: "x", count: 100), mode: 0o644) }
        try FileBatch.reserveAppend(file, count: 1_000, ahead: 256 << 10)
        let reserved = Self.allocated(file)
        #expect(reserved >= (256 << 10) + 1_000)
        try FileBatch.append(file, Array(repeating: 0x79, count: 100 << 10), durably: false)
        try FileBatch.reserveAppend(file, count: 1_000, ahead: 256 << 10)
        #expect(Self.allocated(file) == reserved, "there was room: nothing more reserved")
        try FileBatch.append(file, Array(repeating: 0x79, count: 150 << 10), durably: false)
        try FileBatch.reserveAppend(file, count: 1_000, ahead: 256 << 10)
        #expect(Self.allocated(file) >= reserved + (200 << 10), "the room was used up: more reserved")
        // Without `ahead` (one-shot commands), exactly what the append needs.
        let other = scratch.path + "/index.txt"
        try FileBatch.perform(durable: false) { try $0.stage(other, "", mode: 0o644) }
        try FileBatch.reserveAppend(other, count: 1_000)
        #expect(Self.allocated(other) == 4_096)
    }
}
