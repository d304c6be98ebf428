// Runs suite cases through the PostgreSQL JDBC driver (pgjdbc) against cairn's port.
//
// usage: java -Duser.timezone=UTC -cp /usr/share/java/postgresql.jar RunJdbc.java PORT MODE CASES.json
//
// Prints one JSON line per case: {case, rows, columns, rowcount, error}, every value read with
// the ResultSet getter of its JDBC type (getLong, getDouble, getBoolean, getTimestamp,
// getString) and printed as PostgreSQL's text for it. Parameters are bound with setLong,
// setDouble, setString, setTimestamp, setBoolean (setNull for NULLs). Modes:
//   simple    preferQueryMode=simple: the driver inlines parameters, simple query protocol
//   extended  the driver's defaults: extended protocol, text results, server-prepared after
//             5 executions
//   binary    prepareThreshold=-1: every statement server-prepared, binary results
// Actions: get_tables and get_columns read DatabaseMetaData; repeat reuses one
// PreparedStatement.

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.*;
import java.time.Instant;
import java.util.*;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

@SuppressWarnings("unchecked")
public class RunJdbc {
    static final Pattern PLACEHOLDER = Pattern.compile("\\$(\\d+)");

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String mode = args[1];
        List<Object> cases = (List<Object>) new Json(Files.readString(Path.of(args[2]))).value();
        String url = "jdbc:postgresql://127.0.0.1:" + port + "/default?user=cairn&connectTimeout=10"
            + switch (mode) {
                case "simple" -> "&preferQueryMode=simple";
                case "binary" -> "&prepareThreshold=-1";
                default -> "";
            };
        Connection conn = DriverManager.getConnection(url);
        for (Object o : cases) {
            Map<String, Object> c = (Map<String, Object>) o;
            String out;
            try {
                out = runCase(conn, c);
            } catch (Exception e) {
                String state = e instanceof SQLException s ? s.getSQLState() : null;
                out = "{\"case\":" + q(c.get("name")) + ",\"rows\":null,\"error\":{\"sqlstate\":"
                    + q(state) + ",\"message\":" + q(e.getClass().getSimpleName() + ": " + e.getMessage()) + "}}";
                if (conn.isClosed() || !conn.isValid(5)) {
                    conn = DriverManager.getConnection(url);
                }
            }
            System.out.println(out);
            System.out.flush();
        }
        conn.close();
    }

    static String runCase(Connection conn, Map<String, Object> c) throws SQLException {
        List<List<String>> rows = new ArrayList<>();
        List<String> columns = null;
        Long rowcount = null;
        List<Object> sqls = (List<Object>) c.get("sql");
        List<Object> params = (List<Object>) c.getOrDefault("params", List.of());
        String action = (String) c.get("action");
        if ("get_tables".equals(action) || "get_columns".equals(action)) {
            DatabaseMetaData md = conn.getMetaData();
            String schema = (String) c.get("schema");
            String table = (String) c.get("table");
            boolean tables = "get_tables".equals(action);
            try (ResultSet rs = tables ? md.getTables(null, schema, table, null) : md.getColumns(null, schema, table, null)) {
                while (rs.next()) {
                    rows.add(tables
                        ? Arrays.asList(rs.getString("TABLE_SCHEM"), rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"))
                        : Arrays.asList(rs.getString("COLUMN_NAME"), rs.getString("TYPE_NAME")));
                }
            }
        } else if ("repeat".equals(action)) {
            String sql = (String) sqls.get(0);
            try (PreparedStatement ps = conn.prepareStatement(jdbcPlaceholders(sql))) {
                for (Object set : (List<Object>) c.get("param_sets")) {
                    bind(ps, sql, (List<Object>) set);
                    columns = drain(ps, ps.execute(), rows, null);
                }
            }
        } else {
            for (Object s : sqls) {
                String sql = (String) s;
                long[] count = {-1};
                List<String> cols;
                if (PLACEHOLDER.matcher(sql).find()) {
                    try (PreparedStatement ps = conn.prepareStatement(jdbcPlaceholders(sql))) {
                        bind(ps, sql, params);
                        cols = drain(ps, ps.execute(), rows, count);
                    }
                } else {
                    try (Statement st = conn.createStatement()) {
                        cols = drain(st, st.execute(sql), rows, count);
                    }
                }
                if (cols != null) columns = cols;
                if (count[0] >= 0) rowcount = count[0];
            }
        }
        StringBuilder b = new StringBuilder("{\"case\":").append(q(c.get("name"))).append(",\"rows\":[");
        for (int i = 0; i < rows.size(); i++) {
            b.append(i > 0 ? "," : "").append('[');
            List<String> r = rows.get(i);
            for (int j = 0; j < r.size(); j++) b.append(j > 0 ? "," : "").append(q(r.get(j)));
            b.append(']');
        }
        b.append("],\"columns\":");
        if (columns == null) {
            b.append("null");
        } else {
            b.append('[');
            for (int j = 0; j < columns.size(); j++) b.append(j > 0 ? "," : "").append(q(columns.get(j)));
            b.append(']');
        }
        return b.append(",\"rowcount\":").append(rowcount).append(",\"error\":null}").toString();
    }

    /** Every result of an execute: rows appended, the last update count stored; column names returned. */
    static List<String> drain(Statement st, boolean isResultSet, List<List<String>> rows, long[] count) throws SQLException {
        List<String> columns = null;
        while (true) {
            if (isResultSet) {
                try (ResultSet rs = st.getResultSet()) {
                    ResultSetMetaData md = rs.getMetaData();
                    columns = new ArrayList<>();
                    for (int i = 1; i <= md.getColumnCount(); i++) columns.add(md.getColumnLabel(i));
                    while (rs.next()) rows.add(row(rs, md));
                }
            } else {
                int n = st.getUpdateCount();
                if (n == -1) break;
                if (count != null) count[0] = n;
            }
            isResultSet = st.getMoreResults();
        }
        return columns;
    }

    static List<String> row(ResultSet rs, ResultSetMetaData md) throws SQLException {
        List<String> r = new ArrayList<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
            String v;
            switch (md.getColumnType(i)) {
                case Types.BIGINT, Types.INTEGER, Types.SMALLINT, Types.TINYINT -> {
                    long x = rs.getLong(i);
                    v = rs.wasNull() ? null : Long.toString(x);
                }
                case Types.DOUBLE, Types.FLOAT, Types.REAL -> {
                    double x = rs.getDouble(i);
                    v = rs.wasNull() ? null : pgFloat(x);
                }
                case Types.BOOLEAN, Types.BIT -> {
                    boolean x = rs.getBoolean(i);
                    v = rs.wasNull() ? null : (x ? "t" : "f");
                }
                case Types.TIMESTAMP, Types.TIMESTAMP_WITH_TIMEZONE -> {
                    Timestamp t = rs.getTimestamp(i);
                    v = t == null ? null : pgTimestamp(t.toInstant(), !"timestamp".equals(md.getColumnTypeName(i)));
                }
                default -> v = rs.getString(i);
            }
            r.add(v);
        }
        return r;
    }

    static String jdbcPlaceholders(String sql) {
        return PLACEHOLDER.matcher(sql).replaceAll("?");
    }

    /** Binds the suite's typed parameters in placeholder order with the typed setters. */
    static void bind(PreparedStatement ps, String sql, List<Object> params) throws SQLException {
        Matcher m = PLACEHOLDER.matcher(sql);
        int i = 0;
        while (m.find()) {
            List<Object> p = (List<Object>) params.get(Integer.parseInt(m.group(1)) - 1);
            String kind = (String) p.get(0);
            Object v = p.get(1);
            i++;
            switch (kind) {
                case "int" -> {
                    if (v == null) ps.setNull(i, Types.BIGINT);
                    else ps.setLong(i, ((Number) v).longValue());
                }
                case "float" -> {
                    if (v == null) ps.setNull(i, Types.DOUBLE);
                    else ps.setDouble(i, v instanceof String s ? Double.parseDouble(s) : ((Number) v).doubleValue());
                }
                case "bool" -> {
                    if (v == null) ps.setNull(i, Types.BOOLEAN);
                    else ps.setBoolean(i, (Boolean) v);
                }
                case "timestamp" -> {
                    if (v == null) ps.setNull(i, Types.TIMESTAMP);
                    else ps.setTimestamp(i, Timestamp.from(Instant.parse((String) v)));
                }
                default -> {
                    if (v == null) ps.setNull(i, Types.VARCHAR);
                    else ps.setString(i, (String) v);
                }
            }
        }
    }

    /** float8 as PostgreSQL 12+ prints it: fixed notation for decimal exponents -4..14, else 1e+20. */
    static String pgFloat(double x) {
        if (Double.isNaN(x)) return "NaN";
        if (Double.isInfinite(x)) return x > 0 ? "Infinity" : "-Infinity";
        if (x == 0) return (1 / x < 0) ? "-0" : "0";
        BigDecimal d = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
        String digits = d.unscaledValue().toString();
        int e = digits.length() - 1 - d.scale();
        String sign = x < 0 ? "-" : "";
        if (e >= -4 && e < 15) return sign + d.toPlainString();
        String m = digits.length() > 1 ? digits.charAt(0) + "." + digits.substring(1) : digits;
        return sign + m + "e" + (e >= 0 ? "+" : "-") + String.format("%02d", Math.abs(e));
    }

    /** `2024-01-01 00:00:01.5+00` (UTC); without the offset for timestamp without time zone. */
    static String pgTimestamp(Instant t, boolean withZone) {
        String s = t.toString().replace('T', ' ').replace("Z", "");
        if (s.length() == 16) s += ":00"; // Instant.toString drops zero seconds
        if (s.contains(".")) s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        return withZone ? s + "+00" : s;
    }

    static String q(Object o) {
        if (o == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char ch : o.toString().toCharArray()) {
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
                }
            }
        }
        return b.append('"').toString();
    }

    /** A small JSON reader: objects as maps, arrays as lists, numbers as Long or Double. */
    static final class Json {
        final String s;
        int i;

        Json(String s) {
            this.s = s;
        }

        Object value() {
            ws();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                ws();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws();
                    String k = string();
                    ws();
                    i++; // ':'
                    m.put(k, value());
                    ws();
                    if (s.charAt(i++) == '}') return m;
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                ws();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) {
                    l.add(value());
                    ws();
                    if (s.charAt(i++) == ']') return l;
                }
            }
            if (c == '"') return string();
            if (s.startsWith("true", i)) { i += 4; return true; }
            if (s.startsWith("false", i)) { i += 5; return false; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            String n = s.substring(start, i);
            return n.matches("-?\\d+") ? (Object) Long.parseLong(n) : (Object) Double.parseDouble(n);
        }

        String string() {
            StringBuilder b = new StringBuilder();
            i++; // opening quote
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> b.append(e);
                }
            }
        }

        void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }
    }
}
