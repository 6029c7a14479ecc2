import Crypto
import Foundation
@testable import MeshCA
import Testing
import X509

/// The enrollment server's journal (pki/journal): a batch is committed once its record is synced, and whoever
/// takes the lock after a crash redoes what the crash lost.
@Suite struct IssuanceJournalTests {
    let scratch = ScratchDirectory("journal")
    var directory: String { scratch.path }
    /// The server's view: caching and journaling. No checkpoint on its own within a test, however slow the
    /// machine, so that what a test expects in the journal is there.
    let server: CertificateAuthority

    init() throws {
        server = CertificateAuthority(store: DirectoryStore(
            directory: scratch.path, caching: true, journaling: true, checkpointInterval: .seconds(3600),
            packLimit: 2_000))
        try server.initialize(.init())
    }

    /// Another process's view (certtool list, revoke, …).
    var otherProcess: CertificateAuthority { CertificateAuthority(store: DirectoryStore(directory: directory)) }

    var journal: String { "\(directory)/journal" }

    func read(_ relative: String) -> String? {
        try? String(contentsOfFile: "\(directory)/\(relative)", encoding: .utf8)
    }

    /// The certificate of `serial` as pki/ stores it (PEM), read as another process does.
    func stored(_ serial: String) throws -> String? {
        try DirectoryStore(directory: directory).certificates(serials: [serial])[serial]?.pemString()
    }

    var firstPack: String { "\(directory)/packs/000001.pem" }

    var journalRecords: [IssuanceJournal.Record] {
        IssuanceJournal.records(in: Array(FileManager.default.contents(atPath: journal) ?? Data()))
    }

    func enroll(_ name: String) async throws -> CertificateAuthority.Issued {
        let grant = EnrollmentGrant(subjectAltNames: [.dns("\(name).example.internal")], profile: .client)
        let provisioner = try server.provisioner(create: true)
        let token = try await provisioner.verify(try await provisioner.token(for: grant, ttl: 600))
        let key = try KeyType.ecdsaP256.generate()
        let csr = try EnrollmentCSR.make(key: key, subjectAltNames: grant.subjectAltNames, profile: .client)
        return try server.commit(try server.prepareEnrollment(CertificateRequest(csr), token: token, validity: .init(seconds: 3600)))
    }

    @Test func aRecordRoundTripsAndADamagedOneEndsTheJournal() throws {
        let first = IssuanceJournal.Record(
            rows: "V\t300101000000Z\t\t0A\tunknown\t/CN=a\n",
            issued: [.init(name: "a", chainPEM: "-----BEGIN CERTIFICATE-----\n", publishes: true)],
            redeemed: [.init(id: "t", expiresAt: Date(timeIntervalSince1970: 1_900_000_000))])
        var second = first
        second.redeemed = []
        let bytes = try IssuanceJournal.frame(first, epoch: "e2") + IssuanceJournal.frame(second, epoch: "e2")
        #expect(IssuanceJournal.records(in: bytes) == [first, second])
        #expect(IssuanceJournal.records(in: bytes + [UInt8](repeating: 0, count: 100)) == [first, second])
        // The second record cut short, or one payload byte changed: only the first counts.
        #expect(IssuanceJournal.records(in: Array(bytes.dropLast(5))) == [first])
        var flipped = bytes
        flipped[flipped.count - 10] ^= 0x01
        #expect(IssuanceJournal.records(in: flipped) == [first])
        #expect(IssuanceJournal.records(in: Array("garbage\n".utf8) + bytes).isEmpty)
        // What an emptied journal still holds after the records written since: a record of an older epoch, or
        // a header zeroed by the checkpoint.
        #expect(IssuanceJournal.records(in: try IssuanceJournal.frame(first, epoch: "e3") + bytes) == [first])
        var emptied = bytes
        emptied.replaceSubrange(0..<64, with: [UInt8](repeating: 0, count: 64))
        #expect(IssuanceJournal.records(in: emptied).isEmpty)
        #expect(IssuanceJournal.isReadable(emptied) && IssuanceJournal.isReadable(bytes) && IssuanceJournal.isReadable([]))
        #expect(!IssuanceJournal.isReadable(Array("meshca-journal-3 1 AB\n".utf8)))
        // The certtool before the laid-out journal framed records without an epoch; they are replayed on upgrade.
        let payload = try JSONEncoder().encode(first)
        let appended = Array("meshca-journal-1 \(payload.count) \(Array(SHA256.hash(data: payload)).hexEncoded())\n".utf8)
            + Array(payload) + [UInt8(ascii: "\n")]
        #expect(IssuanceJournal.isReadable(appended))
        #expect(IssuanceJournal.records(in: appended + appended) == [first, first])
    }

    /// The server writes each record into the journal in place, zero-filled ahead of it, so that no record grows
    /// the file (its sync then writes no inode); a checkpoint zeroes its start instead of truncating it, and the
    /// next record starts the journal again. Another process's replay empties it the same way, and the server
    /// goes on writing into the same file.
    @Test func theJournalIsWrittenInPlace() async throws {
        _ = try await enroll("a")
        let file = { () throws -> [String] in
            let attributes = try FileManager.default.attributesOfItem(atPath: journal)
            return ["\(attributes[.size] ?? "")", "\(attributes[.systemFileNumber] ?? "")"]
        }
        let laidOut = try file()
        #expect(Int(laidOut[0]) ?? 0 >= IssuanceJournal.growth)
        _ = try await enroll("b")
        #expect(journalRecords.count == 2)
        #expect(try file() == laidOut)

        try server.store.checkpoint()
        #expect(journalRecords.isEmpty)
        #expect(FileManager.default.contents(atPath: journal)?.prefix(JournalState.headSize).allSatisfy { $0 == 0 } == true)
        #expect(try file() == laidOut)
        let third = try await enroll("c")
        #expect(journalRecords.map(\.issued.first?.name) == [third.name])

        _ = try otherProcess.store.withSharedAccess { try otherProcess.store.loadDatabase() }
        #expect(journalRecords.isEmpty)
        _ = try await enroll("d")
        #expect(journalRecords.count == 1)
        #expect(try file() == laidOut)
    }

    /// The commit writes pki/ too (unsynced), so other processes see the certificate at once; reading through
    /// the lock replays nothing twice and leaves the journal empty.
    @Test func aJournaledBatchIsVisibleAtOnceAndCheckpointedByTheNextProcess() async throws {
        let issued = try await enroll("a")
        let serial = issued.certificate.serialNumber.hexString
        #expect((try FileManager.default.attributesOfItem(atPath: journal)[.size] as? Int ?? 0) > 0)
        #expect((try FileManager.default.attributesOfItem(atPath: journal)[.posixPermissions] as? Int) == 0o600)
        #expect(read("index.txt")?.contains("\t\(serial)\t") == true)
        #expect(read("packs/000001.pem") == (try issued.certificate.pemString()))

        let listed = try otherProcess.store.withSharedAccess { try otherProcess.store.loadDatabase() }
        #expect(listed.records.map(\.serial) == [serial])
        #expect(journalRecords.isEmpty)
        // The server goes on journaling after another process emptied the journal.
        let next = try await enroll("b")
        #expect(try otherProcess.store.withSharedAccess { try otherProcess.store.loadDatabase() }.records.map(\.serial)
            == [serial, next.certificate.serialNumber.hexString])
    }

    /// A server answers a batch at its commit point: the record is in the journal, and pki/ (written next, under
    /// the same lock) does not show the certificate yet; once `commit` returns, it does.
    @Test func aBatchIsAnsweredAtItsCommitPoint() async throws {
        let grant = EnrollmentGrant(subjectAltNames: [.dns("a.example.internal")], profile: .client)
        let provisioner = try server.provisioner(create: true)
        let token = try await provisioner.verify(try await provisioner.token(for: grant, ttl: 600))
        let csr = try EnrollmentCSR.make(key: try KeyType.ecdsaP256.generate(), subjectAltNames: grant.subjectAltNames, profile: .client)
        let job = try server.prepareEnrollment(CertificateRequest(csr), token: token, validity: .init(seconds: 3600))
        var seen: (serial: String, journaled: Bool, inIndex: Bool, filed: Bool)?
        try server.commit([job]) { results in
            guard let serial = try? results[0].get().certificate.serialNumber.hexString else { return }
            let record = IssuanceJournal.records(in: Array(FileManager.default.contents(atPath: journal) ?? Data()))
            seen = (serial, record.contains { $0.rows.contains("\t\(serial)\t") },
                    read("index.txt")?.contains("\t\(serial)\t") == true,
                    read("packs/000001.pem")?.isEmpty == false)
        }
        let answered = try #require(seen)
        #expect(answered.journaled)
        #expect(!answered.inIndex)
        #expect(!answered.filed)
        #expect(read("index.txt")?.contains("\t\(answered.serial)\t") == true)
        #expect(try stored(answered.serial) != nil)
    }

    /// Enrolled certificates go into packs, one after another, and into the next pack once one is full (2,000
    /// bytes here); another process finds each by its serial, and `certtool list` names every one.
    @Test func enrolledCertificatesArePackedInOrder() async throws {
        var issued: [CertificateAuthority.Issued] = []
        for name in ["a", "b", "c", "d"] { issued.append(try await enroll(name)) }
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/packs").sorted()
        #expect(names.count >= 2 && names.first == "000001.pem" && names.last == "00000\(names.count).pem")
        let packed = try names.map { try #require(read("packs/\($0)")) }
        #expect(packed.allSatisfy { $0.utf8.count <= 2_000 })
        #expect(packed.joined() == (try issued.map { try $0.certificate.pemString() }.joined()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/certs_by_serial").isEmpty)
        let listing = try otherProcess.listing()
        #expect(listing.map(\.serial) == issued.map { $0.certificate.serialNumber.hexString })
        #expect(listing.map(\.subjectAltNames) == issued.map { ["DNS:\($0.name)"] })
    }

    /// What a crash right after the commit point can leave: the record synced, none of pki/'s writes (the pack
    /// holding what the lost write-back left: here garbage). The next process redoes them all and cuts the pack
    /// after the record's certificate; a torn record after it (the crash cut an append short) is dropped.
    @Test func aCrashAfterTheCommitPointIsRedoneByTheNextProcess() async throws {
        let indexBefore = try #require(read("index.txt"))
        let issued = try await enroll("a")
        let serial = issued.certificate.serialNumber.hexString
        let record = try Data(contentsOf: URL(fileURLWithPath: journal))
        let published = try #require(read("issued/\(issued.name).crt"))
        // Undo what the crash lost: the certificate, its files and its row.
        try Data(repeating: 0x2A, count: 3_000).write(to: URL(fileURLWithPath: firstPack))
        try FileManager.default.removeItem(atPath: "\(directory)/issued/\(issued.name).crt")
        try FileManager.default.removeItem(atPath: "\(directory)/tokens.used")
        try indexBefore.write(toFile: "\(directory)/index.txt", atomically: true, encoding: .utf8)
        try (record + record.prefix(40)).write(to: URL(fileURLWithPath: journal))

        let other = otherProcess
        let database = try other.store.withSharedAccess { try other.store.loadDatabase() }
        #expect(database.records.map(\.serial) == [serial])
        #expect(database.records.first?.subject == "/CN=a.example.internal")
        #expect(read("packs/000001.pem") == (try issued.certificate.pemString()))
        #expect(read("issued/\(issued.name).crt") == published)
        #expect(journalRecords.isEmpty)
        #expect(read("tokens.used")?.split(separator: "\n").count == 1, "the spent token is back in tokens.used")
        // Renewal finds the replayed row.
        let key = try KeyType.ecdsaP256.generate()
        let csr = try EnrollmentCSR.make(key: key, subjectAltNames: [.dns("a.example.internal")], profile: .client)
        let renewed = try other.commit(try other.prepareRenewal(CertificateRequest(csr), current: issued.certificate, validity: .init(seconds: 3600)))
        #expect(try other.store.loadDatabase().records.count == 2)
        #expect(renewed.certificate.subjectAltNames == issued.certificate.subjectAltNames)
    }

    /// A journal the certtool before this one left (appended records without an epoch, certificates filed by
    /// serial rather than packed) is replayed on upgrade, and emptied.
    @Test func anAppendedJournalOfTheEarlierCerttoolIsReplayed() async throws {
        let indexBefore = try #require(read("index.txt"))
        let issued = try await enroll("a")
        let serial = issued.certificate.serialNumber.hexString
        var record = try #require(journalRecords.first)
        record.pack = nil
        try FileManager.default.removeItem(atPath: firstPack)
        try indexBefore.write(toFile: "\(directory)/index.txt", atomically: true, encoding: .utf8)
        let payload = try JSONEncoder().encode(record)
        let frame = "meshca-journal-1 \(payload.count) \(Array(SHA256.hash(data: payload)).hexEncoded())\n"
        try (Data(frame.utf8) + payload + Data("\n".utf8)).write(to: URL(fileURLWithPath: journal))

        let other = otherProcess
        #expect(try other.store.withSharedAccess { try other.store.loadDatabase() }.records.map(\.serial) == [serial])
        #expect(read("certs_by_serial/\(serial).pem") == (try issued.certificate.pemString()))
        #expect(journalRecords.isEmpty)
    }

    /// Two records under one name (a renewal, say) replayed together: both rows and certificates come back, and
    /// the name stands for the later certificate.
    @Test func aReplayPublishesEachNameByItsLastRecord() async throws {
        let indexBefore = try #require(read("index.txt"))
        let first = try await enroll("a")
        let second = try await enroll("a")
        #expect(first.name == second.name)
        let serials = [first, second].map { $0.certificate.serialNumber.hexString }
        try FileManager.default.removeItem(atPath: firstPack)
        try FileManager.default.removeItem(atPath: "\(directory)/issued/\(first.name).crt")
        try indexBefore.write(toFile: "\(directory)/index.txt", atomically: true, encoding: .utf8)

        let other = otherProcess
        #expect(try other.store.withSharedAccess { try other.store.loadDatabase() }.records.map(\.serial) == serials)
        for issued in [first, second] {
            #expect(try stored(issued.certificate.serialNumber.hexString) == (try issued.certificate.pemString()))
        }
        #expect(read("issued/\(first.name).crt") == (try second.certificate.pemString()))
    }

    /// A redeemed token is appended to tokens.used, however long the ledger: the file keeps its inode and
    /// every line it held. A ledger another process rewrote is read again, so its tokens stay spent.
    @Test func aRedeemedTokenIsAppendedToTheLedger() async throws {
        _ = try await enroll("first")
        let ledger = "\(directory)/tokens.used"
        let filler = (0..<5_000).map { "filler-\($0) \(Int(Date().timeIntervalSince1970) + 3600)\n" }.joined()
        try FileBatch.perform { try $0.stage(ledger, try #require(read("tokens.used")) + filler, mode: 0o600) }
        let before = try #require(read("tokens.used"))
        let inode = try FileManager.default.attributesOfItem(atPath: ledger)[.systemFileNumber] as? Int
        _ = try await enroll("second")
        let after = try #require(read("tokens.used"))
        #expect(after.hasPrefix(before))
        #expect(after.split(separator: "\n").count == before.split(separator: "\n").count + 1)
        #expect(try FileManager.default.attributesOfItem(atPath: ledger)[.systemFileNumber] as? Int == inode)
        #expect((try FileManager.default.attributesOfItem(atPath: ledger)[.posixPermissions] as? Int) == 0o600)

        // Another process (or a person) rewrites the ledger with a token the server has not seen spent.
        let grant = EnrollmentGrant(subjectAltNames: [.dns("third.example.internal")], profile: .client)
        let provisioner = try server.provisioner(create: true)
        let token = try await provisioner.verify(try await provisioner.token(for: grant, ttl: 600))
        try FileBatch.perform {
            try $0.stage(ledger, after + "\(token.id) \(Int(token.expiresAt.timeIntervalSince1970))\n", mode: 0o600)
        }
        let csr = try EnrollmentCSR.make(key: try KeyType.ecdsaP256.generate(), subjectAltNames: grant.subjectAltNames, profile: .client)
        #expect(throws: EnrollmentRefusal.self) {
            try server.commit(try server.prepareEnrollment(CertificateRequest(csr), token: token, validity: .init(seconds: 3600)))
        }
    }

    /// Another process that empties the journal in place leaves the stamp the server compares (inode, birth time,
    /// size) as it was: the server still sees, by the journal's first bytes, that the file is not as it left it,
    /// and starts its records again at the beginning, where readers find them.
    @Test func aJournalRewrittenInPlaceUnderTheSameStampIsNotTrusted() async throws {
        _ = try await enroll("a")
        let stamp = FileStamp(untimed: journal)
        try FileBatch.overwrite(journal, [UInt8](repeating: 0, count: JournalState.headSize), at: 0, durably: false)
        #expect(FileStamp(untimed: journal) == stamp)
        let second = try await enroll("b")
        #expect(journalRecords.map(\.issued.first?.name) == [second.name])
    }

    /// A journal this version cannot read (a newer certtool's) is refused, not dropped as a torn one.
    @Test func aJournalOfAnotherFormatIsLeftAlone() throws {
        let foreign = "meshca-journal-3 3 ABC\nxyz\n"
        try foreign.write(toFile: journal, atomically: true, encoding: .utf8)
        #expect(throws: MeshCAError.self) { try otherProcess.store.withExclusiveAccess {} }
        #expect(read("journal") == foreign)
    }

    /// A write outside the journal (here `certtool issue` of the same name, in the server's process) empties the
    /// journal first: a later replay must not put back the older certificate.
    @Test func aWriteOutsideTheJournalIsNotUndoneByAReplay() async throws {
        let enrolled = try await enroll("a")
        let reissued = try server.issue(.init(name: enrolled.name, subjectAltNames: [.dns("a.example.internal")], profile: .client, force: true))
        #expect(journalRecords.isEmpty)
        _ = try otherProcess.store.withSharedAccess { try otherProcess.store.loadDatabase() }
        #expect(read("issued/\(enrolled.name).crt") == (try reissued.certificate.pemString()))
    }
}
