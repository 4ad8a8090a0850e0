/// What `bake build` would do, without doing anything.
public struct Plan: Sendable {
    /// One image of the plan.
    public struct Image: Sendable {
        public var name: String
        public var file: String
        public var base: BaseSource
        public var steps: [Step]
        public var checks: [Check]
        public var config: ConfigPatch
    }

    /// Images in build order, parents first.
    public var images: [Image]

    /// The plan for `targets` (and everything upstream); empty means every image.
    public static func make(project: Project, targets: [String]) throws -> Plan {
        let order = try project.buildOrder(for: targets)
        return Plan(images: order.map { name in
            let stage = project.stages[name]!
            return Image(name: name, file: stage.file, base: stage.base, steps: stage.steps, checks: stage.checks, config: stage.config)
        })
    }
}
