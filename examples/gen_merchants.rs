//! Writes N synthetic merchant rows as CSV (English headers, canonical values) to stdout, for the
//! import benchmark: the same file feeds `yidianyima import` and PostgreSQL `COPY`.
//!
//! cargo run --release --example gen_merchants -- 100000 > /tmp/merchants.csv

use std::io::{BufWriter, Write};

use yidianyima::demo_merchants::{Rng, COUNTIES};
use yidianyima::domain::uscc::{Uscc, ALPHABET};

fn main() -> std::io::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let categories = [
        "restaurant",
        "hotel",
        "pharmacy",
        "retail",
        "scenic_spot",
        "other",
    ];
    let words = [
        "藏家", "羌家", "雪域", "格桑", "卓玛", "扎西", "嘉绒", "高原", "牦牛", "草原", "雪山",
        "云端",
    ];
    let kinds = [
        "饭店",
        "客栈",
        "大药房",
        "特产店",
        "景区",
        "商行",
        "面馆",
        "酒店",
    ];
    let mut rng = Rng::new(42);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(
        out,
        "uscc,name,legal_representative,category,region_code,address,phone,business_scope,registered_on,status"
    )?;
    while seen.len() < n {
        let (county, _, short, town, _) = *rng.pick(COUNTIES);
        let mut body = String::from("MA");
        for _ in 0..6 {
            body.push(*rng.pick(ALPHABET) as char);
        }
        let uscc = Uscc::build("92", county, &body).expect("valid by construction");
        if !seen.insert(uscc.to_string()) {
            continue;
        }
        let i = seen.len();
        writeln!(
            out,
            "{uscc},{}{}{}{i},{}{},{},{county},阿坝州{short}{town}人民路{}号,13{:09},日用百货销售,20{:02}-{:02}-{:02},open",
            short,
            rng.pick(&words),
            rng.pick(&kinds),
            rng.pick(&["张", "李", "扎西", "卓玛"]),
            rng.pick(&["伟", "娜", "", "措"]),
            rng.pick(&categories),
            1 + rng.below(300),
            rng.below(1_000_000_000),
            10 + rng.below(16),
            1 + rng.below(12),
            1 + rng.below(28),
        )?;
    }
    out.flush()
}
