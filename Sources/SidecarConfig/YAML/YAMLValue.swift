/// One YAML node, with its plain scalars resolved as Go's yaml.v2 does — the parser behind the exporter-toolkit's
/// web config and Kubernetes manifests, so a file means here what it means to them.
public enum YAMLValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    /// A quoted, block or `!!str` scalar, or a plain one that is none of the above.
    case string(String)
    case sequence([YAMLValue])
    case mapping([String: YAMLValue])

    public subscript(key: String) -> YAMLValue? {
        if case .mapping(let mapping) = self { return mapping[key] }
        return nil
    }

    public var mapping: [String: YAMLValue]? {
        if case .mapping(let mapping) = self { return mapping }
        return nil
    }

    public var sequence: [YAMLValue]? {
        if case .sequence(let sequence) = self { return sequence }
        return nil
    }

    public var string: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    /// A sequence of strings only.
    public var strings: [String]? {
        guard let sequence else { return nil }
        let strings = sequence.compactMap(\.string)
        return strings.count == sequence.count ? strings : nil
    }

    /// The value as `[String: Any]`, `[Any]`, `String`, `Int`, `Bool` and `Double` (null stays `YAMLValue.null`),
    /// for code that walks documents loosely.
    public var any: Any {
        switch self {
        case .null: return YAMLValue.null
        case .bool(let value): return value
        case .int(let value): return value
        case .double(let value): return value
        case .string(let value): return value
        case .sequence(let values): return values.map(\.any)
        case .mapping(let mapping): return mapping.mapValues(\.any)
        }
    }
}

extension YAMLValue {
    static func isNull(plain text: String) -> Bool {
        ["", "~", "null", "Null", "NULL"].contains(text)
    }

    /// yaml.v2's resolution of an untagged plain scalar (`resolve.go`). No YAML 1.1 base-60 numbers: yaml.v2
    /// reads `1:30` as a string, and so does Kubernetes.
    static func resolve(plain text: String) -> YAMLValue {
        if isNull(plain: text) { return .null }
        switch text {
        case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE": return .bool(true)
        case "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        if let value = integer(text) { return .int(value) }
        if isFloat(text), let value = Double(text.filter { $0 != "_" }) { return .double(value) }
        return .string(text)
    }

    /// Go's `strconv.ParseInt(s, 0, 64)` after yaml.v2 drops underscores: a sign, then decimal, `0x`, `0o`,
    /// `0b` or a leading-zero octal.
    private static func integer(_ text: String) -> Int? {
        var digits = Substring(text.filter { $0 != "_" })
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        var radix = 10
        for (prefix, base) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] where digits.hasPrefix(prefix) {
            radix = base
            digits = digits.dropFirst(2)
        }
        if radix == 10, digits.count > 1, digits.first == "0" { radix = 8 }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }),
            let magnitude = UInt64(digits, radix: radix)
        else { return nil }
        if negative { return magnitude <= UInt64(Int.max) + 1 ? Int(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int.max) ? Int(magnitude) : nil
    }

    /// yaml.v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
    private static func isFloat(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        func digits() -> Int {
            let count = bytes.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() > 0 else { return false }
        } else {
            guard digits() > 0 else { return false }
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                _ = digits()
            }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }
}
