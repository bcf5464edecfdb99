import Config
import Testing

/// The CustomResourceDefinitions in deploy/crds accept the examples and reject broken manifests,
/// checked with a small validator of the structural-schema subset they use (type, properties,
/// required, additionalProperties, items, enum, minimum, maximum, x-kubernetes-preserve-unknown-
/// fields), rejecting unknown fields as `kubectl apply` (strict field validation) does.
@Suite struct CRDSchemaTests {
  func schema(_ file: String) throws -> YAMLNode {
    let crd = try YAMLReader.document(Array(try Fixture.repoFile(file).utf8), name: file)
    #expect(crd["apiVersion"]?.scalar?.text == "apiextensions.k8s.io/v1")
    return try #require(crd["spec"]?["versions"]?.sequence?.first?["schema"]?["openAPIV3Schema"])
  }

  func problems(_ manifest: String, kind: String) throws -> [String] {
    let file = kind == "Route" ? "deploy/crds/route.yaml" : "deploy/crds/virtualservice.yaml"
    let s = try schema(file)
    var out: [String] = []
    for doc in try YAMLReader.documents(Array(manifest.utf8), name: "m.yaml")
    where doc["kind"]?.scalar?.text == kind {
      SchemaValidator.validate(doc, against: s, path: "", into: &out)
    }
    return out
  }

  @Test func examplesAreAccepted() throws {
    let seed = try Fixture.repoFile("examples/udp-gateway/virtualservices.yaml")
    #expect(try problems(seed, kind: "VirtualService") == [])
    let route = """
      apiVersion: l7mp.io/v1
      kind: Route
      metadata: {name: via-transcoder}
      spec: {destination: worker, ingress: [transcoder, {spec: {protocol: Echo}}], retry: {retry_on: always, num_retries: 3, timeout: 2000}}
      """
    #expect(try problems(route, kind: "Route") == [])
  }

  @Test(arguments: [
    (
      "spec: {listener: {spec: {protocol: UPD, port: 9001}}}",
      "spec.listener.spec.protocol: 'UPD' is not one of"
    ),
    (
      "spec: {listener: {spec: {protocol: UDP, port: 70000}}}",
      "spec.listener.spec.port: 70000 is more than 65535"
    ),
    (
      "spec: {listener: {spec: {port: 9001}}}",
      "spec.listener.spec: missing required field 'protocol'"
    ),
    (
      "spec: {listener: {spec: {protocol: UDP, port: '9001'}}}",
      "spec.listener.spec.port: expected integer"
    ),
    ("spec: {virtualHost: {spec: {protocol: UDP}}}", "spec.virtualHost: expected array"),
    ("spec: {listenr: {}}", "spec: unknown field 'listenr'"),
    (
      "spec: {selector: {matchExpressions: [{key: a, operator: Has}]}}",
      "spec.selector.matchExpressions[0].operator:"
    ),
    ("metadata: {name: x}", ": missing required field 'spec'"),
  ])
  func brokenVirtualServicesAreRejected(body: String, expected: String) throws {
    let manifest = "apiVersion: l7mp.io/v1\nkind: VirtualService\n" + body + "\n"
    let found = try problems(manifest, kind: "VirtualService")
    #expect(found.contains { $0.hasPrefix(expected) }, "\(found)")
  }

  @Test func brokenRoutesAreRejected() throws {
    let found = try problems(
      "apiVersion: l7mp.io/v1\nkind: Route\nspec: {retry: {retry_on: sometimes, num_retries: -1}}\n",
      kind: "Route")
    #expect(
      found.contains { $0.hasPrefix("spec.retry.retry_on: 'sometimes' is not one of") }, "\(found)")
    #expect(
      found.contains { $0.hasPrefix("spec.retry.num_retries: -1 is less than 0") }, "\(found)")
  }
}

/// The structural-schema subset the CRDs use.
enum SchemaValidator {
  static func validate(
    _ node: YAMLNode, against schema: YAMLNode, path: String, into out: inout [String]
  ) {
    let at = " (\(node.mark))"
    let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.scalar?.value == .bool(true)
    guard let type = schema["type"]?.scalar?.text else {
      if !preserve { out.append("\(path): the schema has no type") }
      return
    }
    switch type {
    case "object":
      guard let pairs = node.mapping else {
        out.append("\(path): expected object, found \(node.kindDescription)\(at)")
        return
      }
      let properties = schema["properties"]?.mapping
      for p in pairs {
        let key = p.key.scalar?.text ?? "?"
        let sub = path.isEmpty ? key : "\(path).\(key)"
        if let s = properties?.first(where: { $0.key.scalar?.text == key })?.value {
          validate(p.value, against: s, path: sub, into: &out)
        } else if let additional = schema["additionalProperties"] {
          validate(p.value, against: additional, path: sub, into: &out)
        } else if properties != nil && !preserve {
          out.append("\(path): unknown field '\(key)'\(at)")
        }
      }
      for r in schema["required"]?.sequence ?? [] {
        let name = r.scalar?.text ?? ""
        if node[name] == nil { out.append("\(path): missing required field '\(name)'\(at)") }
      }
    case "array":
      guard let items = node.sequence else {
        out.append("\(path): expected array, found \(node.kindDescription)\(at)")
        return
      }
      if let s = schema["items"] {
        for (i, item) in items.enumerated() {
          validate(item, against: s, path: "\(path)[\(i)]", into: &out)
        }
      }
    case "string":
      guard let s = node.scalar?.string else {
        out.append("\(path): expected string, found \(node.kindDescription)\(at)")
        return
      }
      if let allowed = schema["enum"]?.sequence?.compactMap({ $0.scalar?.text }),
        !allowed.contains(s)
      {
        out.append("\(path): '\(s)' is not one of \(allowed.joined(separator: ", "))\(at)")
      }
    case "integer":
      guard case .int(let i)? = node.scalar?.value else {
        out.append("\(path): expected integer, found \(node.kindDescription)\(at)")
        return
      }
      if case .int(let min)? = schema["minimum"]?.scalar?.value, i < min {
        out.append("\(path): \(i) is less than \(min)\(at)")
      }
      if case .int(let max)? = schema["maximum"]?.scalar?.value, i > max {
        out.append("\(path): \(i) is more than \(max)\(at)")
      }
    case "boolean":
      if case .bool? = node.scalar?.value {
      } else {
        out.append("\(path): expected boolean, found \(node.kindDescription)\(at)")
      }
    default:
      out.append("\(path): unsupported schema type '\(type)'")
    }
  }
}
