import SidecarConfig
import Testing

/// The YAML loader: yaml.v2's scalar resolution, YAML's structure through libyaml, and the bounds on hostile input.
@Suite struct YAMLTests {
    @Test func plainScalarsResolveAsYAMLv2Does() throws {
        let text = """
            null: [~, null, ""]
            bool: [yes, On, true, n, OFF, False]
            int: [0, -17, +4, 0x1F, 0o17, 017, 0b101, 1_000, 9223372036854775807, -9223372036854775808]
            float: [1.5, -.5, 1e3, 2., .inf, -.Inf]
            string: [1:30, 0x, 1.2.3, yesno, "10", '~', !!str 7, abc]
            """
        let value = try #require(try YAML.load(text))
        #expect(value["null"] == .sequence([.null, .null, .string("")]))
        #expect(value["bool"] == .sequence([true, true, true, false, false, false].map(YAMLValue.bool)))
        #expect(value["int"] == .sequence([0, -17, 4, 31, 15, 15, 5, 1000, .max, .min].map(YAMLValue.int)))
        #expect(value["float"] == .sequence([1.5, -0.5, 1000, 2, .infinity, -.infinity].map(YAMLValue.double)))
        #expect(value["string"] == .sequence(["1:30", "0x", "1.2.3", "yesno", "10", "~", "7", "abc"].map(YAMLValue.string)))
    }

    @Test func withoutResolutionScalarsStayAsWritten() throws {
        let value = try #require(try YAML.load("a: 10\nb: yes\nc: ~\nd:\n", resolvingScalars: false))
        #expect(value == .mapping(["a": .string("10"), "b": .string("yes"), "c": .null, "d": .null]))
    }

    @Test func blockScalarsAnchorsAndDocuments() throws {
        let documents = try YAML.loadAll("""
            base: &b {port: 9100, tls: true}
            copy: *b
            text: |
              line one
              line two
            ---
            - second
            """)
        #expect(documents.count == 2)
        #expect(documents[0]["copy"] == .mapping(["port": .int(9100), "tls": .bool(true)]))
        #expect(documents[0]["text"] == .string("line one\nline two\n"))
        #expect(documents[1] == .sequence([.string("second")]))
        #expect(try YAML.load("[!!float 3, !!bool yes, !!null ~, !!int '0x10', !<tag:yaml.org,2002:str> 5]")
                == .sequence([.double(3), .bool(true), .null, .int(16), .string("5")]))
        #expect(try YAML.load("") == nil)
        #expect(try YAML.loadAll("# only a comment\n").isEmpty)
    }

    @Test(arguments: [
        ("a: 1\n---\nb: 2\n", "expected one YAML document, found several"),
        ("a: 1\na: 2\n", "line 2, column 1: key 'a' appears twice in one mapping"),
        ("? [a]\n: b\n", "mapping keys must be plain strings"),
        ("a: *nowhere\n", "alias *nowhere names no anchor before it"),
        ("a: !!int ten\n", "'ten' is not a valid !!int"),
        ("a: !custom x\n", "unsupported tag !custom"),
        ("a: [1, 2\n", "line 2, column 1: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)"),
        ("a:\n\tb: 1\n", "line 2, column 1: found character that cannot start any token (while scanning for the next token)"),
    ])
    func refusals(text: String, message: String) throws {
        let error = #expect(throws: YAMLError.self) { try YAML.load(text) }
        #expect(error?.description.hasSuffix(message) == true, "\(String(describing: error))")
        #expect(error?.description.contains("\n") == false)
    }

    /// A few lines whose aliases would expand to 10^9 nodes ("billion laughs"), and nesting that would take the
    /// recursion down 10,000 levels, are refused instead of exhausting memory or the stack.
    @Test func hostileInputIsBounded() throws {
        let names = "abcdefghi".map(String.init)
        var laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<names.count {
            laughs += "\(names[level]): &\(names[level]) [" + Array(repeating: "*\(names[level - 1])", count: 10).joined(separator: ", ") + "]\n"
        }
        let expansion = #expect(throws: YAMLError.self) { try YAML.load(laughs) }
        #expect(expansion?.description.hasSuffix("expands to more than 100000 nodes (aliases repeat their anchors)") == true)
        let deep = #expect(throws: YAMLError.self) { try YAML.load(String(repeating: "[", count: 10_000)) }
        #expect(deep?.description.hasSuffix("nested deeper than 64 levels") == true)
        // Within the bounds, aliases are values: 1 + 10 × 11 nodes.
        #expect(try YAML.load("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n")?["b"]?.sequence?.count == 10)
    }
}
