/// One of a process's two output streams, file descriptors 1 and 2.
///
/// Both the process layer (which pipe a line came from) and the journal (an
/// output entry's `GATHER_STREAM`) name it, and neither imports the other, so
/// the one type lives here, below both. The raw value is the stream's usual
/// name, as the journal writes it.
public enum StandardStream: String, Sendable, Hashable, CaseIterable {
    case stdout
    case stderr
}
