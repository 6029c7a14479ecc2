import ArgumentParser
import MeshCA

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", _superCommandName: "certtool", abstract: "List every certificate the CA issued, with its status.")

    @OptionGroup var pki: PKIOptions
    @Flag(help: .json) var json = false

    func run() throws {
        let entries = try pki.authority.listing()
        if json {
            try Output.json(entries)
            return
        }
        let header = ["NAME", "SERIAL", "STATUS", "PROFILE", "NOT AFTER", "DAYS", "SANS"]
        let rows = entries.map { entry in
            [entry.name, entry.serial, entry.status + (entry.revocationReason.map { " (\($0))" } ?? ""), entry.profile,
             Output.date(entry.notAfter), String(entry.daysLeft), entry.subjectAltNames.joined(separator: ",")]
        }
        // Widths in Unicode scalars, padded by hand: grapheme counting and NSString's padding took most of the
        // time of listing a large CA.
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].unicodeScalars.count }.max()! }
        var out = ""
        for row in [header] + rows {
            for (index, cell) in row.enumerated() {
                out += cell
                if index < row.count - 1 {
                    out += String(repeating: " ", count: widths[index] - cell.unicodeScalars.count + 2)
                }
            }
            out += "\n"
        }
        print(out, terminator: "")
    }
}
