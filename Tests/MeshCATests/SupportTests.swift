import Foundation
import Testing

@testable import MeshCA

@Suite struct SupportTests {
    @Test(arguments: [("  a b \n", "a b"), ("\t\u{A0}x", "x"), ("   ", ""), ("", ""), ("y", "y")])
    func trimsWhitespace(text: String, trimmed: String) {
        #expect(text.trimming(while: \.isWhitespace) == trimmed)
    }

    /// A file error reads as the operating system's words, not as a dump of FoundationEssentials' error.
    @Test func fileErrorsReadAsTheSystemSaysThem() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meshca-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let notADirectory = #expect(throws: (any Error).self) {
            try FileManager.default.createDirectory(atPath: file + "/sub", withIntermediateDirectories: true)
        }
        #expect(notADirectory.map(ioReason) == "Not a directory", "\(String(describing: notADirectory))")
        let missing = #expect(throws: (any Error).self) { try String(contentsOfFile: file + "-missing", encoding: .utf8) }
        #expect(missing.map(ioReason) == "No such file or directory", "\(String(describing: missing))")
    }

    /// An unreadable CA directory is one error line with the reason.
    @Test func aPKIUnderAFileNamesTheReason() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meshca-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let authority = CertificateAuthority(store: DirectoryStore(directory: file + "/pki"))
        #expect(throws: MeshCAError.io("cannot create \(file)/pki: Not a directory")) {
            _ = try authority.initialize(CertificateAuthority.Setup())
        }
    }
}
