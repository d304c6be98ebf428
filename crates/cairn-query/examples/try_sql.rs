use cairn_engine::{Db, DbOptions};
use cairn_query::Session;
use datafusion::arrow::util::pretty::pretty_format_batches;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), DbOptions::default()).unwrap());
    let s = Session::new(db.clone());
    for q in std::env::args().skip(1) {
        println!("> {q}");
        match s.sql(&q, &[]).await {
            Ok(o) => {
                println!("{}", o.command_tag());
                if o.has_rows() {
                    println!("{}", pretty_format_batches(&o.batches).unwrap());
                }
            }
            Err(e) => println!("ERROR [{}] {e}", e.sqlstate()),
        }
    }
}
