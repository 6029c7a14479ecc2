import Foundation
import SidecarConfig
import Testing

/// docs/deploy/: the core kinds validate against the Kubernetes schemas (kubernetes-validate --strict), and
/// the references between them agree — volumes, mounts, Secrets, ConfigMaps, Services, file paths, SANs.
@Suite struct DeployManifestTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/deploy").path

    typealias Object = [String: Any]

    static func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static func objects() throws -> [Object] {
        try files().flatMap { file in
            try YAML.loadAll(String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)).compactMap { $0.any as? Object }
        }
    }

    @Test func coreKindsValidateStrictly() throws {
        let ws = try Workspace()
        var validated = 0
        for file in try Self.files() {
            // Custom resources (the Prometheus Operator's) have no schema there; the other tests check them.
            let core = try String(contentsOfFile: "\(Self.directory)/\(file)", encoding: .utf8).components(separatedBy: "\n---\n")
                .filter { document in try YAML.load(document)?["apiVersion"]?.string.map { !$0.hasPrefix("monitoring.coreos.com/") } ?? false }
            try ws.write(file, core.joined(separator: "\n---\n"))
            let result = try Command.run("kubernetes-validate", ["--strict", "--quiet", ws.path(file)])
            #expect(result.status == 0, "\(file): \(result.output)")
            validated += core.count
        }
        #expect(validated >= 18, "core documents validated: \(validated)")
    }

    /// What a pod (or the Operator's Prometheus resource) declares.
    struct Pod {
        var namespace: String
        var labels: [String: String]
        var volumes: [String: Object]
        var containers: [Object]
        var securityContext: Object
    }

    static func pods(_ objects: [Object]) -> [Pod] {
        objects.compactMap { object in
            let metadata = object["metadata"] as? Object ?? [:]
            let namespace = metadata["namespace"] as? String ?? "default"
            let spec = object["spec"] as? Object ?? [:]
            switch object["kind"] as? String {
            case "Deployment":
                let template = spec["template"] as? Object ?? [:]
                let pod = template["spec"] as? Object ?? [:]
                let labels = (template["metadata"] as? Object)?["labels"] as? [String: String] ?? [:]
                let containers = (pod["initContainers"] as? [Object] ?? []) + (pod["containers"] as? [Object] ?? [])
                return Pod(namespace: namespace, labels: labels, volumes: volumes(pod), containers: containers,
                           securityContext: pod["securityContext"] as? Object ?? [:])
            case "Prometheus":
                // The Operator runs Prometheus itself with spec.volumeMounts; extra containers come from spec.
                let prometheus: Object = ["name": "prometheus", "volumeMounts": spec["volumeMounts"] ?? [], "args": [String]()]
                let containers = (spec["initContainers"] as? [Object] ?? []) + (spec["containers"] as? [Object] ?? []) + [prometheus]
                return Pod(namespace: namespace, labels: [:], volumes: volumes(spec), containers: containers,
                           securityContext: spec["securityContext"] as? Object ?? [:])
            default:
                return nil
            }
        }
    }

    static func volumes(_ spec: Object) -> [String: Object] {
        Dictionary(uniqueKeysWithValues: (spec["volumes"] as? [Object] ?? []).map { ($0["name"] as! String, $0) })
    }

    static func arguments(_ container: Object) -> [String] {
        (container["command"] as? [String] ?? []) + (container["args"] as? [String] ?? [])
    }

    /// `--flag=value` values (every occurrence).
    static func flag(_ name: String, _ container: Object) -> [String] {
        arguments(container).compactMap { $0.hasPrefix("--\(name)=") ? String($0.dropFirst(name.count + 3)) : nil }
    }

    /// The mount (volume name and the path inside the volume) that holds `path` in `container`.
    static func mount(holding path: String, in container: Object) -> (volume: String, relative: String)? {
        for mount in container["volumeMounts"] as? [Object] ?? [] {
            let mountPath = mount["mountPath"] as! String
            if path == mountPath { return (mount["name"] as! String, "") }
            if path.hasPrefix(mountPath + "/") { return (mount["name"] as! String, String(path.dropFirst(mountPath.count + 1))) }
        }
        return nil
    }

    /// Whether a label selector's `matchLabels` (an empty one selects nothing here) selects what carries `labels`.
    static func selects(_ matchLabels: [String: String]?, _ labels: [String: String]) -> Bool {
        guard let matchLabels, !matchLabels.isEmpty else { return false }
        return matchLabels.allSatisfy { labels[$0.key] == $0.value }
    }

    static func labels(_ object: Object) -> [String: String] {
        (object["metadata"] as? Object)?["labels"] as? [String: String] ?? [:]
    }

    static func find(_ objects: [Object], kind: String, namespace: String, name: String) -> Object? {
        objects.first {
            $0["kind"] as? String == kind && ($0["metadata"] as? Object)?["name"] as? String == name
                && (($0["metadata"] as? Object)?["namespace"] as? String ?? "default") == namespace
        }
    }

    @Test func referencesAgree() throws {
        let objects = try Self.objects()
        let pods = Self.pods(objects)
        #expect(pods.count == 4, "CA, app, Prometheus and the Operator's Prometheus")
        var certsOutputs: [(pod: Int, volume: String)] = []
        // The SANs of the CA server's own certificate (the container serving a --pki).
        let caSANs = pods.flatMap { $0.containers }.filter { Self.arguments($0).contains("serve") && !Self.flag("pki", $0).isEmpty }
            .flatMap { Self.flag("san", $0) }
        var servingSANs: Set<String> = []

        for (index, pod) in pods.enumerated() {
            // Every volume's source exists, with the keys it projects.
            for (name, volume) in pod.volumes {
                if let configMap = volume["configMap"] as? Object {
                    let object = Self.find(objects, kind: "ConfigMap", namespace: pod.namespace, name: configMap["name"] as! String)
                    #expect(object != nil, "volume \(name): ConfigMap \(configMap["name"]!) in \(pod.namespace)")
                    let keys = Set((object?["data"] as? Object ?? [:]).keys)
                    for item in configMap["items"] as? [Object] ?? [] { #expect(keys.contains(item["key"] as! String)) }
                }
                if let secret = volume["secret"] as? Object {
                    let object = Self.find(objects, kind: "Secret", namespace: pod.namespace, name: secret["secretName"] as! String)
                    #expect(object != nil, "volume \(name): Secret \(secret["secretName"]!) in \(pod.namespace)")
                    let keys = Set((object?["stringData"] as? Object ?? [:]).keys).union((object?["data"] as? Object ?? [:]).keys)
                    for item in secret["items"] as? [Object] ?? [] { #expect(keys.contains(item["key"] as! String)) }
                }
                if let claim = volume["persistentVolumeClaim"] as? Object {
                    #expect(Self.find(objects, kind: "PersistentVolumeClaim", namespace: pod.namespace, name: claim["claimName"] as! String) != nil)
                }
            }
            for container in pod.containers {
                let name = container["name"] as? String ?? "?"
                for mount in container["volumeMounts"] as? [Object] ?? [] {
                    #expect(pod.volumes[mount["name"] as! String] != nil, "\(name) mounts an undefined volume \(mount["name"]!)")
                }
                // Files named on the command line live in a mount, and a projected file is one the volume projects.
                for flag in ["ca-bundle", "token", "out", "pki", "config.file"] {
                    for path in Self.flag(flag, container) {
                        let held = Self.mount(holding: path, in: container)
                        #expect(held != nil, "\(name): --\(flag)=\(path) is in no volume mount")
                        guard let held, let volume = pod.volumes[held.volume], !held.relative.isEmpty else { continue }
                        let source = (volume["configMap"] ?? volume["secret"]) as? Object
                        if let items = source?["items"] as? [Object] {
                            #expect(items.contains { $0["path"] as? String == held.relative }, "\(name): \(path) is not projected")
                        }
                    }
                }
                // --ca-url names the CA's Service and port, and a SAN of the CA's certificate.
                for url in Self.flag("ca-url", container) {
                    let host = try #require(URLComponents(string: url)?.host), port = URLComponents(string: url)?.port
                    let parts = host.split(separator: ".")
                    #expect(parts.count >= 3 && parts[2] == "svc", "\(url) is a Service address")
                    let service = Self.find(objects, kind: "Service", namespace: String(parts[1]), name: String(parts[0]))
                    let ports = (service?["spec"] as? Object)?["ports"] as? [Object] ?? []
                    #expect(ports.contains { $0["port"] as? Int == port }, "\(url): no such Service port")
                    #expect(caSANs.contains("DNS:\(host)"), "the CA's certificate must carry DNS:\(host)")
                }
                let args = Self.arguments(container)
                if args.contains("certs"), let out = Self.flag("out", container).first, let held = Self.mount(holding: out, in: container) {
                    certsOutputs.append((index, held.volume))
                    let volume = pod.volumes[held.volume]
                    #expect((volume?["emptyDir"] as? Object)?["medium"] as? String == "Memory", "certificates stay in memory")
                }
                if args.contains("serve") && Self.flag("pki", container).isEmpty {
                    servingSANs.formUnion(Self.flag("san", container).filter { $0.hasPrefix("DNS:") }.map { String($0.dropFirst(4)) })
                }
            }
        }
        #expect(!servingSANs.isEmpty)

        // Prometheus's tls_config (plain config) and the ServiceMonitor's tlsConfig read the agent's files.
        let promConfigMap = try #require(Self.find(objects, kind: "ConfigMap", namespace: "monitoring", name: "prometheus-config"))
        let promConfig = try #require(try YAML.load((promConfigMap["data"] as! Object)["prometheus.yml"] as! String)?.any as? Object)
        let tlsConfigs: [(Object, files: [String], serverName: String?, skip: Bool?)] =
            (promConfig["scrape_configs"] as! [Object]).compactMap { job in
                guard let tls = job["tls_config"] as? Object else { return nil }
                return (job, ["ca_file", "cert_file", "key_file"].compactMap { tls[$0] as? String }, tls["server_name"] as? String,
                        tls["insecure_skip_verify"] as? Bool)
            }
        let monitors = objects.filter { $0["kind"] as? String == "ServiceMonitor" }.flatMap { monitor in
            ((monitor["spec"] as! Object)["endpoints"] as! [Object]).compactMap { endpoint -> (Object, files: [String], serverName: String?, skip: Bool?)? in
                guard let tls = endpoint["tlsConfig"] as? Object else { return nil }
                return (monitor, ["caFile", "certFile", "keyFile"].compactMap { tls[$0] as? String }, tls["serverName"] as? String,
                        tls["insecureSkipVerify"] as? Bool)
            }
        }
        let mutualTLS = tlsConfigs.filter { $0.files.count > 1 }, mutualMonitors = monitors.filter { $0.files.count > 1 }
        #expect(mutualTLS.count == 1 && mutualMonitors.count == 1)
        for (config, isOperator) in mutualTLS.map({ ($0, false) }) + mutualMonitors.map({ ($0, true) }) {
            let podIndex = try #require(pods.firstIndex { pod in
                pod.namespace == "monitoring" && (pod.containers.contains { $0["name"] as? String == "prometheus" })
                    && (isOperator == pod.labels.isEmpty)
            })
            let prometheus = try #require(pods[podIndex].containers.first { $0["name"] as? String == "prometheus" })
            #expect(config.files.count == 3)
            #expect(Set(config.files.map { ($0 as NSString).lastPathComponent }) == ["root-cert.pem", "cert-chain.pem", "key.pem"])
            for file in config.files {
                let held = try #require(Self.mount(holding: file, in: prometheus), "\(file) is in no Prometheus mount")
                #expect(certsOutputs.contains { $0.pod == podIndex && $0.volume == held.volume }, "\(file) is not where the agent writes")
            }
            #expect(config.skip == false, "insecure_skip_verify: false")
            #expect(servingSANs.contains(config.serverName ?? ""), "server_name \(config.serverName ?? "nil") is a SAN the app sidecar asks for")
        }

        // The CA's own /metrics: server TLS only, verified against the root the agent writes, by a SAN the CA has.
        let caJobs = tlsConfigs.filter { $0.files.count == 1 } + monitors.filter { $0.files.count == 1 }
        #expect(caJobs.count == 2, "the plain configuration's and the Operator's")
        for job in caJobs {
            #expect(job.files.map { ($0 as NSString).lastPathComponent } == ["root-cert.pem"])
            #expect(job.skip == false && caSANs.contains("DNS:\(job.serverName ?? "")"), "\(job.serverName ?? "nil")")
        }
        // Services select their pods and target a declared container port.
        for service in objects.filter({ $0["kind"] as? String == "Service" }) {
            let namespace = (service["metadata"] as! Object)["namespace"] as! String
            let spec = service["spec"] as! Object, selector = spec["selector"] as! [String: String]
            let pod = try #require(pods.first { pod in pod.namespace == namespace && Self.selects(selector, pod.labels) })
            let names = Set(pod.containers.flatMap { $0["ports"] as? [Object] ?? [] }.compactMap { $0["name"] as? String })
            for port in spec["ports"] as! [Object] { #expect(names.contains(port["targetPort"] as! String)) }
        }

        // Prometheus runs as another uid than the agent, so the key must be readable by it.
        for pod in pods where pod.namespace == "monitoring" {
            for container in pod.containers where Self.arguments(container).contains("certs") {
                #expect(Self.flag("key-mode", container) == ["0644"] || pod.securityContext["fsGroup"] != nil)
            }
        }
    }

    /// What one scrape job reaches and how: a Service's port, the scheme and the TLS files and name.
    struct Scrape: Hashable, CustomStringConvertible {
        var job: String, namespace: String, service: String, port: Int
        var scheme: String, files: [String], serverName: String?, skipVerify: Bool?
        var description: String { "\(job) → \(service).\(namespace):\(port) \(scheme) \(files) \(serverName ?? "-")" }
    }

    /// The Operator path (operator.yaml) scrapes what the plain configuration scrapes, under the same job names,
    /// so that one set of alerts serves both: the Prometheus resource selects every ServiceMonitor and the
    /// PrometheusRule, each ServiceMonitor endpoint is a port of the one Service it selects, and the PrometheusRule
    /// holds meshca-alerts.yml's groups exactly (which alertRulesCheckFireAndNameRealMetrics checks with promtool).
    @Test func operatorPathScrapesAndAlertsAsThePlainConfiguration() throws {
        let objects = try Self.objects()
        let prometheus = try #require(objects.first { $0["kind"] as? String == "Prometheus" }?["spec"] as? Object)
        func selected(by selector: String, _ object: Object) -> Bool {
            Self.selects((prometheus[selector] as? Object)?["matchLabels"] as? [String: String], Self.labels(object))
        }
        // {} selects every namespace; absent, only the Prometheus resource's own.
        #expect(prometheus["serviceMonitorNamespaceSelector"] != nil && prometheus["ruleNamespaceSelector"] != nil)

        let promConfigMap = try #require(Self.find(objects, kind: "ConfigMap", namespace: "monitoring", name: "prometheus-config"))
        let promData = promConfigMap["data"] as! Object
        let promConfig = try #require(try YAML.load(promData["prometheus.yml"] as! String)?.any as? Object)
        var plain: Set<Scrape> = []
        for job in promConfig["scrape_configs"] as! [Object] {
            let tls = job["tls_config"] as? Object ?? [:]
            for target in (job["static_configs"] as? [Object] ?? []).flatMap({ $0["targets"] as? [String] ?? [] }) {
                let parts = target.split(separator: ":"), host = parts[0].split(separator: ".")
                plain.insert(Scrape(job: job["job_name"] as! String, namespace: String(host[1]), service: String(host[0]),
                                    port: Int(parts[1])!, scheme: job["scheme"] as? String ?? "http",
                                    files: ["ca_file", "cert_file", "key_file"].compactMap { tls[$0] as? String },
                                    serverName: tls["server_name"] as? String, skipVerify: tls["insecure_skip_verify"] as? Bool))
            }
        }

        var operated: Set<Scrape> = []
        for monitor in objects.filter({ $0["kind"] as? String == "ServiceMonitor" }) {
            let name = (monitor["metadata"] as! Object)["name"] as! String, spec = monitor["spec"] as! Object
            #expect(selected(by: "serviceMonitorSelector", monitor), "the Prometheus resource does not select ServiceMonitor \(name)")
            let namespaces = (spec["namespaceSelector"] as? Object)?["matchNames"] as? [String] ?? []
            let wanted = (spec["selector"] as? Object)?["matchLabels"] as? [String: String]
            let services = objects.filter { object in
                object["kind"] as? String == "Service" && Self.selects(wanted, Self.labels(object))
                    && namespaces.contains((object["metadata"] as? Object)?["namespace"] as? String ?? "")
            }
            let service = try #require(services.count == 1 ? services[0] : nil, "ServiceMonitor \(name) selects \(services.count) Services")
            let metadata = service["metadata"] as! Object, ports = (service["spec"] as! Object)["ports"] as! [Object]
            for endpoint in spec["endpoints"] as! [Object] {
                let port = try #require(ports.first { $0["name"] as? String == endpoint["port"] as? String }?["port"] as? Int,
                                        "ServiceMonitor \(name): the Service has no port \(endpoint["port"] ?? "nil")")
                let job = (endpoint["relabelings"] as? [Object] ?? []).last { $0["targetLabel"] as? String == "job" }?["replacement"] as? String
                let tls = endpoint["tlsConfig"] as? Object ?? [:]
                operated.insert(Scrape(job: try #require(job, "ServiceMonitor \(name) leaves the job named after the Service"),
                                       namespace: metadata["namespace"] as! String, service: metadata["name"] as! String, port: port,
                                       scheme: endpoint["scheme"] as? String ?? "http",
                                       files: ["caFile", "certFile", "keyFile"].compactMap { tls[$0] as? String },
                                       serverName: tls["serverName"] as? String, skipVerify: tls["insecureSkipVerify"] as? Bool))
            }
        }
        #expect(plain.count == 3)
        #expect(operated == plain, "only in operator.yaml: \(operated.subtracting(plain)); only in prometheus.yaml: \(plain.subtracting(operated))")

        // The Operator's Prometheus discovers those targets through the API, as its service account, which must
        // be allowed to list and watch each namespace's Services, Pods and Endpoints (or EndpointSlices).
        let account = try #require(prometheus["serviceAccountName"] as? String, "the Prometheus resource runs as the default account")
        #expect(Self.find(objects, kind: "ServiceAccount", namespace: "monitoring", name: account) != nil)
        for namespace in Set(operated.map(\.namespace)) {
            let granted = objects.filter { binding in
                let kind = binding["kind"] as? String, bindingNamespace = (binding["metadata"] as? Object)?["namespace"] as? String
                let subjects = binding["subjects"] as? [Object] ?? []
                return (kind == "ClusterRoleBinding" || (kind == "RoleBinding" && bindingNamespace == namespace))
                    && subjects.contains { $0["kind"] as? String == "ServiceAccount" && $0["name"] as? String == account && $0["namespace"] as? String == "monitoring" }
            }.flatMap { binding -> [Object] in
                let reference = binding["roleRef"] as! Object, roleNamespace = (binding["metadata"] as? Object)?["namespace"] as? String
                let role = reference["kind"] as? String == "ClusterRole"
                    ? objects.first { $0["kind"] as? String == "ClusterRole" && ($0["metadata"] as? Object)?["name"] as? String == reference["name"] as? String }
                    : Self.find(objects, kind: "Role", namespace: roleNamespace ?? "", name: reference["name"] as! String)
                return role?["rules"] as? [Object] ?? []
            }
            func allowed(_ group: String, _ resource: String) -> Bool {
                granted.contains { rule in
                    (rule["apiGroups"] as? [String] ?? []).contains(group) && (rule["resources"] as? [String] ?? []).contains(resource)
                        && Set(rule["verbs"] as? [String] ?? []).isSuperset(of: ["list", "watch"])
                }
            }
            #expect(allowed("", "services") && allowed("", "pods") && (allowed("", "endpoints") || allowed("discovery.k8s.io", "endpointslices")),
                    "\(account) may not discover targets in namespace \(namespace)")
        }

        let rules = objects.filter { $0["kind"] as? String == "PrometheusRule" }
        #expect(rules.count == 1 && rules.allSatisfy { selected(by: "ruleSelector", $0) })
        let groups = try #require(rules.first?["spec"])
        let alerts = try #require(try YAML.load(promData["meshca-alerts.yml"] as! String)?.any)
        func canonical(_ value: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
        }
        #expect(try canonical(groups) == canonical(alerts), "the PrometheusRule's groups differ from meshca-alerts.yml")
    }

    /// docs/deploy's Prometheus configuration and its alert rules, as promtool reads them: the config (with the
    /// rule file) checks, every alert fires in a unit test when it should and not before, and every MeshCA
    /// metric a rule names is one the CA or the sidecar exports.
    @Test func alertRulesCheckFireAndNameRealMetrics() throws {
        let objects = try Self.objects()
        let data = try #require(Self.find(objects, kind: "ConfigMap", namespace: "monitoring", name: "prometheus-config")?["data"] as? Object)
        let rules = try #require(data["meshca-alerts.yml"] as? String)
        let ws = try Workspace()
        try FileManager.default.createDirectory(atPath: ws.path("certs"), withIntermediateDirectories: true)
        for file in ["root-cert.pem", "cert-chain.pem", "key.pem"] { try ws.write("certs/\(file)", "") }
        let config = try #require(data["prometheus.yml"] as? String)
            .replacingOccurrences(of: "/etc/prometheus/", with: ws.path("") + "/")
            .replacingOccurrences(of: "/etc/prom-certs/", with: ws.path("certs") + "/")
        try ws.write("prometheus.yml", config)
        try ws.write("meshca-alerts.yml", rules)
        let checked = try Command.run("promtool", ["check", "config", ws.path("prometheus.yml")])
        #expect(checked.status == 0 && checked.output.contains("6 rules found"), "\(checked.output)")

        try ws.write("alerts-test.yml", Self.alertTests)
        let tested = try Command.run("promtool", ["test", "rules", "alerts-test.yml"], directory: ws.url)
        #expect(tested.status == 0, "\(tested.output)")

        let ca = try CAServerFixture()
        let sidecar = try SidecarFixture()
        try sidecar.startSidecar()
        let exported = Set((try ca.curl("/metrics").body + "\n" + sidecar.admin("/metrics")).split(separator: "\n")
            .filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        let named = Set(rules.matches(of: try Regex("(?:meshca|scrape_sidecar)_[a-z_]+")).map { String(rules[$0.range]) })
        #expect(named.count == 5, "\(named)")
        for name in named {
            let family = name.hasSuffix("_bucket") ? String(name.dropLast("_bucket".count)) : name
            #expect(exported.contains(family), "\(name) is not exported by certtool serve or scrape-sidecar serve")
        }
    }

    /// promtool unit tests for meshca-alerts.yml: each alert pending (not firing) before its `for`, firing after,
    /// and not for the series that should not trip it.
    static let alertTests = """
        rule_files: [meshca-alerts.yml]
        evaluation_interval: 1m
        tests:
          - interval: 1m
            input_series:
              - series: 'scrape_sidecar_certificate_not_after_seconds{instance="app:9901",job="shop-app-sidecar"}'
                values: '10800+0x30'
              - series: 'scrape_sidecar_certificate_not_after_seconds{instance="fresh:9901",job="shop-app-sidecar"}'
                values: '86400+0x30'
              - series: 'meshca_crl_next_update_seconds{instance="ca",job="meshca"}'
                values: '3600+0x30'
              - series: 'meshca_server_certificate_not_after_seconds{instance="ca",job="meshca"}'
                values: '86400+0x90'
              - series: 'meshca_enrollment_failures_total{instance="ca",job="meshca",endpoint="simpleenroll",reason="storage"}'
                values: '0+10x30'
              - series: 'meshca_enrollment_failures_total{instance="ca",job="meshca",endpoint="simpleenroll",reason="reused_token"}'
                values: '0+10x30'
              - series: 'meshca_commit_duration_seconds_bucket{instance="ca",job="meshca",le="0.25"}'
                values: '0+0x30'
              - series: 'meshca_commit_duration_seconds_bucket{instance="ca",job="meshca",le="0.5"}'
                values: '0+100x30'
              - series: 'meshca_commit_duration_seconds_bucket{instance="ca",job="meshca",le="+Inf"}'
                values: '0+100x30'
              - series: 'up{instance="meshca.meshca.svc:8443",job="meshca"}'
                values: '0x30'
              - series: 'up{instance="app.shop.svc:9443",job="shop-app"}'
                values: '1x30'
            alert_rule_test:
              - eval_time: 5m
                alertname: ScrapeSidecarCertificateExpiresSoon
              - eval_time: 15m
                alertname: ScrapeSidecarCertificateExpiresSoon
                exp_alerts:
                  - exp_labels: {severity: critical, instance: "app:9901", job: shop-app-sidecar}
                    exp_annotations:
                      summary: "app:9901: the sidecar's serving certificate expires in 2h 45m 0s"
                      description: "Renewal has stopped: the sidecar's log says why (CA unreachable, certificate revoked, clock)."
              - eval_time: 15m
                alertname: MeshCACRLExpiresSoon
                exp_alerts:
                  - exp_labels: {severity: critical, instance: ca, job: meshca}
                    exp_annotations:
                      summary: "ca: the CRL's nextUpdate is 45m 0s away"
                      description: "The CA republishes at half the CRL's life; a CRL this close to expiry means it cannot (see its log)."
              - eval_time: 30m
                alertname: MeshCAServerCertificateExpiresSoon
              - eval_time: 70m
                alertname: MeshCAServerCertificateExpiresSoon
                exp_alerts:
                  - exp_labels: {severity: warning, instance: ca, job: meshca}
                    exp_annotations:
                      summary: "ca: the CA's own TLS certificate expires in 22h 50m 0s"
              - eval_time: 10m
                alertname: MeshCAEnrollmentsFailing
                exp_alerts:
                  - exp_labels: {severity: critical, instance: ca, reason: storage}
                    exp_annotations:
                      summary: "ca: enrollments fail (storage)"
                      description: "storage: the CA cannot write its pki/ (disk full or read-only); internal: see the CA's log."
              - eval_time: 10m
                alertname: MeshCACommitsSlow
              - eval_time: 20m
                alertname: MeshCACommitsSlow
                exp_alerts:
                  - exp_labels: {severity: warning, instance: ca}
                    exp_annotations:
                      summary: "ca: 1% of the CA's durable writes take over 497.5ms"
                      description: "Each enrollment waits for one; the disk under the CA's pki/ is slow or failing."
              - eval_time: 3m
                alertname: MeshCATargetDown
              - eval_time: 10m
                alertname: MeshCATargetDown
                exp_alerts:
                  - exp_labels: {severity: critical, instance: "meshca.meshca.svc:8443", job: meshca}
                    exp_annotations:
                      summary: "meshca at meshca.meshca.svc:8443 cannot be scraped"
        """
}
