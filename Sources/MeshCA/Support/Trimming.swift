extension StringProtocol {
    /// The text without the leading and trailing characters that match `predicate`.
    ///
    /// Not Foundation's `trimmingCharacters(in:)`: that is outside FoundationEssentials, and on Linux it bridges
    /// through NSString, whose generic decoding costs run-time conformance scans of the whole binary.
    public func trimming(while predicate: (Character) -> Bool) -> SubSequence {
        let start = firstIndex { !predicate($0) } ?? endIndex
        let end = lastIndex { !predicate($0) }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
