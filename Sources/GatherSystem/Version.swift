/// The version of gatherd and gatherctl, kept in this one place: both
/// executables print it for `--version`, and the install step and the Debian
/// package take it from `gatherd --version`.
public enum GatherVersion {
    /// The release version, `MAJOR.MINOR.PATCH`.
    public static let current = "0.9.0"
}
