import CYAML

/// libyaml's event parser over a copy of the text, one event at a time as Swift values.
final class YAMLEvents {
    enum Event {
        case streamStart, streamEnd, documentStart, documentEnd
        case alias(anchor: String)
        case scalar(anchor: String?, tag: String?, value: String, plain: Bool)
        case sequenceStart(anchor: String?, tag: String?)
        case sequenceEnd
        case mappingStart(anchor: String?, tag: String?)
        case mappingEnd
    }

    /// Where the event starts, 1-based, for messages.
    private(set) var line = 0
    private(set) var column = 0
    private let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
    private let input: UnsafeMutableBufferPointer<UInt8>

    init(_ text: String) throws {
        input = .allocate(capacity: text.utf8.count)
        _ = input.initialize(from: text.utf8)
        guard yaml_parser_initialize(parser) == 1 else {
            input.deallocate()
            parser.deallocate()
            throw YAMLError("out of memory starting the YAML parser")
        }
        yaml_parser_set_input_string(parser, input.baseAddress, input.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    func next() throws -> Event {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw parseError() }
        defer { yaml_event_delete(&event) }
        line = event.start_mark.line + 1
        column = event.start_mark.column + 1
        func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? { pointer.map { String(cString: $0) } }
        switch event.type {
        case YAML_STREAM_START_EVENT: return .streamStart
        case YAML_STREAM_END_EVENT: return .streamEnd
        case YAML_DOCUMENT_START_EVENT: return .documentStart
        case YAML_DOCUMENT_END_EVENT: return .documentEnd
        case YAML_ALIAS_EVENT: return .alias(anchor: text(event.data.alias.anchor) ?? "")
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            return .scalar(anchor: text(scalar.anchor), tag: text(scalar.tag), value: value,
                           plain: scalar.style == YAML_PLAIN_SCALAR_STYLE)
        case YAML_SEQUENCE_START_EVENT:
            return .sequenceStart(anchor: text(event.data.sequence_start.anchor), tag: text(event.data.sequence_start.tag))
        case YAML_SEQUENCE_END_EVENT: return .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            return .mappingStart(anchor: text(event.data.mapping_start.anchor), tag: text(event.data.mapping_start.tag))
        case YAML_MAPPING_END_EVENT: return .mappingEnd
        default: throw YAMLError("line \(line), column \(column): unexpected YAML event \(event.type.rawValue)")
        }
    }

    /// libyaml's problem, where it is, and what it was parsing: "line 3, column 1: did not find expected key
    /// (while parsing a block mapping at line 1, column 1)".
    private func parseError() -> YAMLError {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "invalid YAML"
        var message = "line \(state.problem_mark.line + 1), column \(state.problem_mark.column + 1): \(problem)"
        if let context = state.context.map({ String(cString: $0) }) {
            let mark = state.context_mark
            let here = mark.line == state.problem_mark.line && mark.column == state.problem_mark.column
            message += here ? " (\(context))" : " (\(context) at line \(mark.line + 1), column \(mark.column + 1))"
        }
        return YAMLError(message)
    }
}
