/// `/etc/passwd` and `/etc/group` of an image, to resolve `owner: app:app`.
struct UserDatabase {
    var users: [String: (uid: UInt32, gid: UInt32)] = [:]
    var homes: [String: String] = [:]
    var groups: [String: UInt32] = [:]
    var members: [String: [String]] = [:]
    /// Names in file order, to find a uid's first entry.
    var order: [String] = []

    /// The first passwd entry with `uid`.
    func byUID(_ uid: UInt32) -> (name: String, gid: UInt32, home: String?)? {
        guard let name = order.first(where: { users[$0]?.uid == uid }), let entry = users[name] else { return nil }
        return (name, entry.gid, homes[name])
    }

    init(passwd: [UInt8]?, group: [UInt8]?) {
        for line in (passwd ?? []).split(separator: 0x0a) {
            let fields = line.split(separator: 0x3a, omittingEmptySubsequences: false)
            guard fields.count >= 4, let uid = UInt32(String(decoding: fields[2], as: UTF8.self)),
                  let gid = UInt32(String(decoding: fields[3], as: UTF8.self)) else { continue }
            let name = String(decoding: fields[0], as: UTF8.self)
            if users[name] == nil {
                users[name] = (uid, gid)
                order.append(name)
                if fields.count >= 6 { homes[name] = String(decoding: fields[5], as: UTF8.self) }
            }
        }
        for line in (group ?? []).split(separator: 0x0a) {
            let fields = line.split(separator: 0x3a, omittingEmptySubsequences: false)
            guard fields.count >= 3, let gid = UInt32(String(decoding: fields[2], as: UTF8.self)) else { continue }
            let name = String(decoding: fields[0], as: UTF8.self)
            if groups[name] == nil {
                groups[name] = gid
                if fields.count >= 4 {
                    members[name] = fields[3].split(separator: 0x2c).map { String(decoding: $0, as: UTF8.self) }
                }
            }
        }
    }
}
