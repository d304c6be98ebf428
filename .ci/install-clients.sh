#!/usr/bin/env bash
# Installs the real PostgreSQL and InfluxDB clients that crates/cairn/tests/clients.rs runs
# against `cairn serve`: psql, Java + the PostgreSQL JDBC driver, Node.js + node-postgres,
# psycopg and influxdb-client. Idempotent (installs only what is missing), Debian, as root.
#
# node-postgres goes into $CAIRN_CLIENTS_DIR (default: target/clients, beside the test
# binaries; the tests look there), never into the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."

clients_dir="${CAIRN_CLIENTS_DIR:-$PWD/target/clients}"
installed=()

# Debian packages, for each command or file that is missing.
apt_wanted=()
command -v psql >/dev/null 2>&1 || apt_wanted+=(postgresql-client)
command -v java >/dev/null 2>&1 || apt_wanted+=(default-jdk-headless)
[[ -f /usr/share/java/postgresql.jar ]] || apt_wanted+=(libpostgresql-jdbc-java)
# Node.js may come from elsewhere (NodeSource bundles npm): install Debian's only if absent.
command -v node >/dev/null 2>&1 || apt_wanted+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_wanted+=(npm)
if ((${#apt_wanted[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_wanted[@]}" >/dev/null
    installed+=("apt: ${apt_wanted[*]}")
fi

# Python packages (pip of the python3 the tests run).
pip_wanted=()
python3 -c 'import psycopg, psycopg.pq; psycopg.pq.version()' >/dev/null 2>&1 ||
    pip_wanted+=('psycopg[binary]>=3.1')
python3 -c 'import influxdb_client' >/dev/null 2>&1 || pip_wanted+=('influxdb-client>=1.36')
if ((${#pip_wanted[@]})); then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --break-system-packages \
        "${pip_wanted[@]}"
    installed+=("pip: ${pip_wanted[*]}")
fi

# node-postgres into the clients directory.
if [[ ! -f "$clients_dir/node_modules/pg/package.json" ]]; then
    mkdir -p "$clients_dir"
    npm install --silent --no-audit --no-fund --prefix "$clients_dir" 'pg@^8' >/dev/null
    installed+=("npm: pg into $clients_dir")
fi

if ((${#installed[@]})); then
    printf 'installed %s\n' "${installed[@]}"
else
    echo "all clients already installed"
fi
printf 'psql %s | java %s | node %s | psycopg %s | influxdb-client %s | pg %s\n' \
    "$(psql --version | awk '{print $3}')" \
    "$(java -version 2>&1 | awk -F'"' 'NR==1 {print $2}')" \
    "$(node --version)" \
    "$(python3 -c 'import psycopg; print(psycopg.__version__)')" \
    "$(python3 -c 'import influxdb_client; print(influxdb_client.__version__)')" \
    "$(node -p "require('$clients_dir/node_modules/pg/package.json').version")"
