/// What pushing one blob took.
public enum BlobPush: String, Sendable, Codable {
    /// The repository already had it (HEAD answered 200): nothing sent.
    case existed
    /// Mounted from another repository of the same registry: nothing sent.
    case mounted
    /// Its bytes were sent.
    case uploaded
}
