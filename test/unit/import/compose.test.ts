import { describe, expect, it } from "vitest"
import { expectValid, fixture, imported, noted, refused, sameDir, session, skipped } from "./helpers.js"

const compose = (text: string, options = sameDir()) => imported("compose", text, options)

/** A Dockerfile in each build context the import names, next to the config (a context must exist to be digested). */
const contexts = (r: ReturnType<typeof compose>): Record<string, string> =>
  Object.fromEntries(Object.values(r.config.ops.sessions).flatMap((s) => {
    const b = (s as Record<string, unknown>)["build"] as { context?: string } | undefined
    return b?.context === undefined ? [] : [[`${b.context}/Dockerfile`, "FROM scratch\n"]]
  }))

describe("compose: awesome-compose files", () => {
  it("wordpress-mysql: images, string command, list env, named volume, ports, restart", () => {
    const r = compose(fixture("awesome-compose/wordpress-mysql/compose.yaml"))
    expect(session(r, "db")).toEqual({
      backend: "container",
      image: "mariadb:10.6.4-focal",
      command: "--default-authentication-plugin=mysql_native_password",
      env: { MYSQL_ROOT_PASSWORD: "somewordpress", MYSQL_DATABASE: "wordpress", MYSQL_USER: "wordpress", MYSQL_PASSWORD: "wordpress" },
      volumes: ["db_data:/var/lib/mysql"],
      restart: "always"
    })
    expect(session(r, "wordpress")["ports"]).toEqual(["80:80"])
    expect(r.config.ops.volumes).toEqual({ db_data: {} })
    expect(skipped(r)).toEqual({ "services.db.expose": expect.stringContaining("expose only documents ports") })
    expectValid(r)
  })

  it("elasticsearch-logstash-kibana: a CMD-SHELL healthcheck becomes ready.cmd, dotted env keys, networks", () => {
    const r = compose(fixture("awesome-compose/elasticsearch-logstash-kibana/compose.yaml"))
    const es = session(r, "elasticsearch")
    // `|| exit 1` only maps failures to 1: kstlib needs no shell for the rest
    expect(es["ready"]).toEqual({ cmd: "curl --silent --fail localhost:9200/_cluster/health", interval: 10, timeout: 60 })
    expect(es["shell"]).toBeUndefined()
    expect(es["env"]).toEqual({ "discovery.type": "single-node", ES_JAVA_OPTS: "-Xms512m -Xmx512m" })
    expect(session(r, "logstash")["depends_on"]).toEqual(["elasticsearch"])
    expect(r.config.ops.networks).toEqual({ elastic: {} })
    expect(skipped(r)["networks.elastic.driver"]).toContain("engine's defaults")
    expect(skipped(r)["services.elasticsearch.container_name"]).toContain("names the container after the session")
    expect(noted(r)["services.elasticsearch.healthcheck"]).toContain("start_period + retries × (interval + timeout)")
    expectValid(r)
  })

  it("nginx-flask-mysql: build, secrets reported, a healthcheck that needs a shell next to a command is not carried", () => {
    const r = compose(fixture("awesome-compose/nginx-flask-mysql/compose.yaml"), sameDir("/src/nginx-flask-mysql"))
    expect(session(r, "backend")).toMatchObject({ image: "nginx-flask-mysql-backend", build: { context: "backend", target: "builder" }, depends_on: ["db"] })
    expect(session(r, "proxy")["build"]).toEqual({ context: "proxy" })
    expect(session(r, "db")["ready"]).toBeUndefined()
    const why = skipped(r)
    expect(why["services.db.healthcheck.test"]).toContain("needs a shell")
    expect(why["services.db.secrets"]).toContain("no secrets objects")
    expect(why["services.backend.secrets"]).toContain("no secrets objects")
    expect(why["secrets"]).toContain("no secrets objects")
    expect(noted(r)["services.backend.depends_on.db.condition"]).toBe("service_healthy: db has no ready check here, so backend starts once db runs")
    // `$$(…)` is compose's escape for the shell, not a variable
    expect(r.notes.some((n) => n.what.includes("${VAR}"))).toBe(false)
    expectValid(r, { files: contexts(r) })
  })

  it("traefik-golang: the engine socket mount is refused, never turned into unsafe_mounts", () => {
    const r = compose(fixture("awesome-compose/traefik-golang/compose.yaml"))
    expect(session(r, "frontend")["volumes"]).toBeUndefined()
    expect(skipped(r)["services.frontend.volumes[0]"]).toMatch(/container engine socket.*unsafe_mounts: true, an opt-in an import never makes/u)
    expect(JSON.stringify(r.config)).not.toContain("unsafe")
    expect(session(r, "backend")["labels"]).toEqual({
      "traefik.enable": "true",
      "traefik.http.routers.go.rule": "Path(`/`)",
      "traefik.http.services.go.loadbalancer.server.port": "80"
    })
    expectValid(r, { files: contexts(r) })
  })

  it("react-express-mongodb: an anonymous volume becomes a named one, declared", () => {
    const r = compose(fixture("awesome-compose/react-express-mongodb/compose.yaml"))
    expect(session(r, "frontend")["volumes"]).toEqual(["./frontend:/usr/src/app", "frontend-usr-src-app-node_modules:/usr/src/app/node_modules"])
    expect(r.config.ops.volumes).toEqual({ mongo_data: {}, "frontend-usr-src-app-node_modules": {}, "backend-usr-src-app-node_modules": {} })
    expect(skipped(r)["services.frontend.stdin_open"]).toContain("TTY")
    expectValid(r, { files: contexts(r) })
  })

  it("prometheus-grafana: a command list stays a list; unless-stopped", () => {
    const r = compose(fixture("awesome-compose/prometheus-grafana/compose.yaml"))
    expect(session(r, "prometheus")).toMatchObject({ command: ["--config.file=/etc/prometheus/prometheus.yml"], restart: "unless-stopped" })
    expectValid(r)
  })

  it("pihole-cloudflared-DoH: ${VAR} kept as written, interpolated by the loader", () => {
    const r = compose(fixture("awesome-compose/pihole-cloudflared-DoH/compose.yaml"))
    expect(session(r, "pihole")["env"]).toMatchObject({ TZ: "${TIMEZONE}", WEBPASSWORD: "${PIHOLE_PW}" })
    expect(skipped(r)["services.cloudflared.networks.dns-net.ipv4_address"]).toContain("network setting")
    expect(skipped(r)["version"]).toContain("obsolete")
    const vars = ["TIMEZONE", "PIHOLE_PW", "PIHOLE_ROUTER_IP", "PIHOLE_NETWORK_DOMAIN", "PIHOLE_REVERSE_DNS", "PIHOLE_HOST_IP", "PIHOLE_HOST_IPV6"]
    expectValid(r, { env: Object.fromEntries(vars.map((v) => [v, "x"])) })
  })
})

describe("compose: each key", () => {
  it("the container run options are carried and validate as they are (issue 22); network_mode: bridge is the project network", () => {
    const r = compose(`
services:
  db:
    image: postgres:16
    user: "999:999"
    hostname: db1
    init: true
    read_only: true
    pids_limit: 100
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    network_mode: bridge
  tool:
    image: busybox
    network_mode: host
`)
    expect(session(r, "db")).toMatchObject({ user: "999:999", hostname: "db1", init: true, read_only: true, pids_limit: 100, cap_add: ["NET_ADMIN"], cap_drop: ["ALL"] })
    expect(session(r, "db")["network_mode"]).toBeUndefined()
    expect(noted(r)["services.db.network_mode"]).toContain("project's network")
    expect(session(r, "tool")["network_mode"]).toBe("host")
    expect(skipped(r)).toEqual({})
    expectValid(r)
  })

  it("a service of today's fields only validates whole", () => {
    const r = compose(`
services:
  web:
    image: localhost:5000/web:1.2
    command: python -m http.server 8000
    working_dir: /srv
    environment:
      LOG_LEVEL: info
      DEBUG: 0
    env_file: web.env
    ports: ["8080:8000", 9000]
    volumes: ["./data:/data:ro"]
    restart: on-failure:3
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8000/"]
      interval: 2s
      timeout: 1s
      retries: 4
    depends_on: [db]
  db:
    image: redis:7
`)
    expect(session(r, "web")).toEqual({
      backend: "container",
      image: "localhost:5000/web:1.2",
      command: "python -m http.server 8000",
      working_dir: "/srv",
      env: { LOG_LEVEL: "info", DEBUG: 0 },
      env_file: "web.env",
      ports: ["8080:8000", 9000],
      volumes: ["./data:/data:ro"],
      restart: "on-failure",
      max_restarts: 3,
      ready: { cmd: "wget -q -O- http://localhost:8000/", interval: 2, timeout: 12 },
      depends_on: ["db"]
    })
    expect(r.notCarried).toEqual([])
    expectValid(r, { files: { "web.env": "TOKEN=x\n" } })
  })

  it("every carried key of the agreed fields", () => {
    const r = compose(`
name: shop
services:
  api:
    image: shop/api
    entrypoint: ["/entry.sh"]
    command: ["serve", "--port", "80"]
    environment: ["A=1", "FROM_HOST"]
    ports:
      - "127.0.0.1:8080:80"
      - "8000-8002:8000-8002/udp"
      - { target: 443, published: "8443", host_ip: 0.0.0.0, protocol: tcp, mode: host }
    volumes:
      - { type: bind, source: ./conf, target: /etc/app, read_only: true }
      - { type: volume, source: cache, target: /cache }
      - { type: tmpfs, target: /run, tmpfs: { size: 1000 } }
      - "./logs:/logs:z"
    tmpfs: /tmp
    user: "1000:1000"
    hostname: api
    labels: ["team=shop", "io.kstlib.managed=true"]
    extra_hosts: { db.local: 10.0.0.5 }
    init: true
    read_only: true
    mem_limit: 512M
    cpus: "1.5"
    pids_limit: 200
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    networks:
      front: { aliases: [api.local] }
      back:
    network_mode: service:proxy
    pull_policy: if_not_present
    stop_signal: SIGTERM
    stop_grace_period: 1m30s
    restart: unless-stopped
    build:
      context: ./api
      dockerfile: Dockerfile.prod
      target: runtime
      args: [VERSION=1]
      cache_from: [shop/api]
  worker:
    image: shop/worker
    privileged: true
    deploy:
      replicas: 0
      resources:
        limits: { memory: 1g, cpus: "0.5", pids: 50 }
        reservations: { memory: 256m }
      restart_policy: { condition: on-failure, max_attempts: 4, delay: 5s, window: 30s }
      placement: { constraints: ["node.role == worker"] }
    profiles: [jobs]
    logging: { driver: json-file }
    x-note: hi
    frobnicate: 1
  proxy:
    image: nginx
x-common: &common
  restart: always
networks:
  front: { internal: true }
  back: { driver: overlay }
volumes:
  cache: { external: true }
configs:
  app: { file: ./app.conf }
`)
    expect(r.config.ops.project).toBe("shop")
    expect(r.config.ops.networks).toEqual({ front: { internal: true }, back: {} })
    expect(r.config.ops.volumes).toEqual({ cache: {} })
    expect(session(r, "api")).toEqual({
      backend: "container",
      image: "shop/api",
      build: { context: "./api", dockerfile: "Dockerfile.prod", target: "runtime", args: { VERSION: "1" } },
      pull: "missing",
      entrypoint: ["/entry.sh"],
      command: ["serve", "--port", "80"],
      user: "1000:1000",
      hostname: "api",
      env: { A: "1", FROM_HOST: "${FROM_HOST-}" },
      ports: ["127.0.0.1:8080:80", "8000-8002:8000-8002/udp", "0.0.0.0:8443:443/tcp"],
      volumes: ["./conf:/etc/app:ro", "cache:/cache", { type: "tmpfs", target: "/run" }, "./logs:/logs", { type: "tmpfs", target: "/tmp" }],
      networks: ["front", "back"],
      extra_hosts: ["db.local:10.0.0.5"],
      labels: { team: "shop" },
      init: true,
      read_only: true,
      memory: "512m",
      cpus: 1.5,
      pids_limit: 200,
      cap_add: ["NET_ADMIN"],
      cap_drop: ["ALL"],
      restart: "unless-stopped",
      stop_signal: "TERM",
      stop_timeout: 90
    })
    expect(session(r, "worker")).toEqual({
      backend: "container",
      image: "shop/worker",
      memory: "1g",
      cpus: 0.5,
      pids_limit: 50,
      restart: "on-failure",
      max_restarts: 4,
      restart_delay: 5,
      min_uptime: 30,
      state: "stopped"
    })
    const why = skipped(r)
    expect(Object.keys(why).sort()).toEqual([
      "configs",
      "networks.back.driver",
      "services.api.build.cache_from",
      "services.api.labels[\"io.kstlib.managed\"]",
      "services.api.network_mode",
      "services.api.networks.front.aliases",
      "services.api.ports[2].mode",
      "services.api.volumes[2].tmpfs",
      "services.api.volumes[3].mode",
      "services.worker.deploy.placement",
      "services.worker.deploy.resources.reservations",
      "services.worker.frobnicate",
      "services.worker.logging",
      "services.worker.privileged",
      "services.worker.profiles",
      "services.worker.x-note",
      "volumes.cache.external",
      "x-common"
    ])
    expect(why["services.api.labels[\"io.kstlib.managed\"]"]).toContain("ownership marks")
    expect(why["services.worker.privileged"]).toContain("unsafe_mounts: true")
    expect(why["services.worker.profiles"]).toContain("state: stopped")
    expect(why["services.api.network_mode"]).toContain("host or none, or left out for the project's network")
    expect(noted(r)["services.api.environment.FROM_HOST"]).toContain("${FROM_HOST-}")
    // every report entry of a service names its session (the YAML puts it above that session)
    expect(r.notCarried.filter((n) => n.where.startsWith("services.")).every((n) => n.session !== undefined)).toBe(true)
  })

  it("depends_on conditions: healthy waits for ready, completed is not an order kstlib keeps", () => {
    const r = compose(`
services:
  db:
    image: postgres:16
    healthcheck: { test: ["CMD", "pg_isready"], interval: 5s }
  migrate:
    image: app
    command: ./migrate
  app:
    image: app
    depends_on:
      db: { condition: service_healthy, restart: true }
      migrate: { condition: service_completed_successfully }
      ghost: { condition: service_started }
`)
    expect(session(r, "app")["depends_on"]).toEqual(["db"])
    expect(noted(r)["services.app.depends_on.db.condition"]).toBe("service_healthy: app starts once db runs and its ready check (its healthcheck) passes")
    const why = skipped(r)
    expect(why["services.app.depends_on.migrate.condition"]).toContain("no 'ran to completion' condition")
    expect(why["services.app.depends_on.db.restart"]).toContain("does not restart dependents")
    expect(why["services.app.depends_on.ghost"]).toContain("not a service")
    expect(session(r, "db")["ready"]).toEqual({ cmd: "pg_isready", interval: 5, timeout: 105 })
    expectValid(r)
  })

  it("commands: shell syntax gets shell: true, sh -c CODE becomes CODE, a list kstlib refuses runs through sh", () => {
    const r = compose(`
services:
  a: { image: x, command: "sh -c 'echo a && echo b'" }
  b: { image: x, command: "echo a && echo b" }
  c: { image: x, command: ["bash", "-c", "echo $$HOME"] }
  d: { image: x, command: ["/bin/sh", "-c", "exec nginx"] }
  e: { image: x, entrypoint: /entry.sh, command: "echo a && echo b" }
  f: { image: x, command: "grep -E 'a|b' file" }
`)
    expect(session(r, "a")).toMatchObject({ command: "echo a && echo b", shell: true })
    expect(session(r, "b")).toMatchObject({ command: "echo a && echo b", shell: true })
    expect(noted(r)["services.b.command"]).toContain("shell syntax")
    expect(session(r, "c")).toMatchObject({ command: "bash -c 'echo $$HOME'", shell: true })
    expect(session(r, "d")).toMatchObject({ command: "exec nginx", shell: true })
    // with an entrypoint the words are its arguments: no shell in between
    expect(session(r, "e")).toMatchObject({ entrypoint: "/entry.sh", command: ["echo", "a", "&&", "echo", "b"] })
    expect(session(r, "f")).toMatchObject({ command: "grep -E 'a|b' file" })
    expect(session(r, "f")["shell"]).toBeUndefined()
    const { a, b, c, d, f } = r.config.ops.sessions
    expectValid({ ...r, config: { ops: { sessions: { a: a!, b: b!, c: c!, d: d!, f: f! } } } })
  })

  it("a CMD-SHELL test that needs a shell sets shell: true when the service has no command", () => {
    const r = compose(`
services:
  db:
    image: mysql
    healthcheck:
      test: ["CMD-SHELL", "mysqladmin ping -p$$MYSQL_ROOT_PASSWORD"]
      disable: false
  cache:
    image: redis
    healthcheck: { test: ["NONE"] }
`)
    expect(session(r, "db")).toMatchObject({ shell: true, ready: { cmd: "mysqladmin ping -p$$MYSQL_ROOT_PASSWORD", timeout: 180 } })
    expect(noted(r)["services.db.healthcheck.test"]).toContain("shell: true")
    expect(session(r, "cache")["ready"]).toBeUndefined()
    expect(noted(r)["services.cache.healthcheck"]).toContain("disabled")
    expectValid(r)
  })

  it("service names become kstlib names, and references follow", () => {
    const r = compose(`
services:
  my.app: { image: x, depends_on: [1st] }
  1st: { image: x }
  my-app: { image: x }
`)
    // a valid name keeps it; only the others yield
    expect(Object.keys(r.config.ops.sessions)).toEqual(["my-app-2", "s-1st", "my-app"])
    expect(session(r, "my-app-2")["depends_on"]).toEqual(["s-1st"])
    expect(noted(r)["services[\"my.app\"]"]).toContain("named my-app-2")
    expect(noted(r)["services.1st"]).toContain("named s-1st")
    expectValid(r)
  })

  it("relative host paths are rewritten for the config's directory; '..' becomes absolute", () => {
    const r = compose(`
services:
  web:
    image: x
    env_file: [.env, ../shared.env]
    volumes: ["./data:/data", "../shared:/shared", "~/cache:/cache", "/srv/x:/x"]
    build: ./web
`, { file: "compose.yml", sourceDir: "/home/u/proj/deploy", outputDir: "/home/u/proj" })
    expect(session(r, "web")).toMatchObject({
      env_file: ["./deploy/.env", "./shared.env"],
      volumes: ["./deploy/data:/data", "./shared:/shared", "~/cache:/cache", "/srv/x:/x"],
      build: { context: "./deploy/web" }
    })
    const up = compose(`services: { web: { image: x, volumes: ["../../data:/data"] } }`, { file: "c.yml", sourceDir: "/a/b/c", outputDir: "/a/b/c" })
    expect(session(up, "web")["volumes"]).toEqual(["/a/data:/data"])
    expect(noted(up)["services.web.volumes[0]"]).toContain("kstlib refuses '..'")
  })

  it("values kstlib's rules refuse are reported, never written; secret values are never in the report", () => {
    const secret = "hunter2-s3cr3t"
    const r = compose(`
services:
  web:
    image: "Not An Image"
    environment:
      LD_PRELOAD: /tmp/${secret}.so
      GOOD: ${secret}
      "bad key": ${secret}
    volumes: ["/etc:/host-etc", "/proc/1:/p", "/:/root-fs"]
    working_dir: relative/dir
    ports: ["80:80:80"]
  ok:
    image: x
`)
    const why = skipped(r)
    expect(why["services.web.image"]).toContain("Invalid image name format")
    expect(why["services.web.environment.LD_PRELOAD"]).toContain("blocked for security reasons")
    expect(why["services.web.environment[\"bad key\"]"]).toContain("Invalid env key format")
    expect(why["services.web.volumes[0]"]).toContain("host system directory")
    expect(why["services.web.volumes[1]"]).toContain("host system directory")
    expect(why["services.web.volumes[2]"]).toContain("host system directory")
    expect(why["services.web.working_dir"]).toContain("absolute")
    expect(why["services.web.ports[0]"]).toContain("not a port form")
    expect(why["services.web"]).toContain("needs image: or build:")
    expect(JSON.stringify([r.notCarried, r.notes])).not.toContain(secret)
    expect(Object.keys(r.config.ops.sessions)).toEqual(["ok"])
  })

  it("YAML merge keys resolve; unparsable or non-compose files are refused with why", () => {
    const r = compose(`
x-base: &base { image: x, restart: always }
services:
  a: { <<: *base, command: run }
`)
    expect(session(r, "a")).toEqual({ backend: "container", image: "x", command: "run", restart: "always" })
    expect(refused("compose", "services: [a")).toMatch(/^not valid YAML/u)
    expect(refused("compose", "apps: []")).toBe("not a compose file: no services: mapping")
  })
})
