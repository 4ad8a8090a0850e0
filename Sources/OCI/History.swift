// Image configuration, history: https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md#properties

/// One history entry: how a layer (or a config-only change) was made.
public struct History: Sendable, Hashable, Codable {
    /// RFC 3339 creation time.
    public var created: String?
    /// The command that made the layer.
    public var createdBy: String?
    /// Author.
    public var author: String?
    /// A comment.
    public var comment: String?
    /// True when this entry made no layer.
    public var emptyLayer: Bool?

    public init(created: String?, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
        self.created = created
        self.createdBy = createdBy
        self.comment = comment
        self.emptyLayer = emptyLayer
    }

    enum CodingKeys: String, CodingKey {
        case created
        case createdBy = "created_by"
        case author, comment
        case emptyLayer = "empty_layer"
    }
}
