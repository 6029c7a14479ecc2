import ArgumentParser
import MeshCA

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List every certificate the CA issued, with its status.")

    @OptionGroup var pki: PKIOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let entries = try pki.authority.listing()
        if output.json {
            try Output.json(entries)
            return
        }
        let header = ["NAME", "SERIAL", "STATUS", "PROFILE", "NOT AFTER", "DAYS", "SANS"]
        let rows = entries.map { entry in
            [entry.name, entry.serial, entry.status + (entry.revocationReason.map { " (\($0))" } ?? ""), entry.profile,
             Output.date(entry.notAfter), String(entry.daysLeft), entry.subjectAltNames.joined(separator: ",")]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
        for row in [header] + rows {
            print(row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  "))
        }
    }
}
