/// bake's version: `bake --version`, and the writer named in remote cache entries.
public enum BakeVersion {
    public static let current = "0.1.0"
}
