//! Synthetic merchants for the demo: 1,056 across the prefecture's 13 counties (the programme's
//! own figure), with licences, two years of inspections and a few credit events. Deterministic:
//! the same seed gives the same merchants; dates are relative to the day of loading so the
//! demo always looks current. Names, people and addresses are invented.

use chrono::{Datelike, Days, NaiveDate};

use crate::db::merchants::{MerchantFields, NewCreditRecord, NewInspection, NewLicence};
use crate::domain::grade::{self, CreditFact, InspectionFact};
use crate::domain::merchant::{Category, CreditKind, InspectionResult};
use crate::domain::uscc::{Uscc, ALPHABET};

/// SplitMix64: tiny, and stable forever (unlike a library generator's algorithm choice).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, percent_tenths: u64) -> bool {
        self.below(1000) < percent_tenths
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// (county code, merchants there, short name, seat town, altitude-seasonal?)
pub const COUNTIES: &[(&str, usize, &str, &str, bool)] = &[
    ("513201", 120, "马尔康", "马尔康镇", false),
    ("513221", 95, "汶川", "威州镇", false),
    ("513222", 60, "理县", "杂谷脑镇", true),
    ("513223", 75, "茂县", "凤仪镇", false),
    ("513224", 110, "松潘", "进安镇", true),
    ("513225", 160, "九寨沟", "永乐镇", true),
    ("513226", 55, "金川", "金川镇", false),
    ("513227", 60, "小金", "美兴镇", true),
    ("513228", 50, "黑水", "芦花镇", true),
    ("513230", 35, "壤塘", "壤柯镇", true),
    ("513231", 55, "阿坝", "阿坝镇", true),
    ("513232", 96, "若尔盖", "达扎寺镇", true),
    ("513233", 85, "红原", "邛溪镇", true),
];

const PREFIXES: &[&str] = &[
    "藏家", "羌家", "雪域", "格桑", "卓玛", "扎西", "嘉绒", "高原", "牦牛", "草原", "雪山", "云端",
    "吉祥", "阳光", "白塔", "经幡", "溪谷", "松林", "金凤", "祥和",
];
const RESTAURANTS: &[&str] = &[
    "藏餐",
    "牦牛肉火锅",
    "羌家乐",
    "川菜馆",
    "面馆",
    "烧烤",
    "酸菜鱼",
    "酥油茶馆",
    "家常菜",
    "土火锅",
    "农家乐",
    "小吃店",
];
const HOTELS: &[&str] = &[
    "酒店",
    "大酒店",
    "宾馆",
    "客栈",
    "民宿",
    "精品酒店",
    "青年旅舍",
    "山庄",
];
const PHARMACY_BRANDS: &[&str] = &[
    "康源", "仁和", "健民", "同仁", "众康", "济生", "百姓", "安康",
];
const RETAIL: &[&str] = &[
    "特产店",
    "超市",
    "牦牛肉专卖店",
    "藏饰店",
    "便利店",
    "户外用品店",
    "土特产商行",
    "茶叶店",
];
const SCENIC: &[&str] = &[
    "冰川生态景区",
    "羌寨文化景区",
    "草原湿地景区",
    "高山花海景区",
    "古城文化景区",
    "峡谷生态景区",
];
const STREETS: &[&str] = &[
    "人民路",
    "团结街",
    "和平路",
    "滨河路",
    "新街",
    "达萨街",
    "民族街",
    "建设路",
    "红旗路",
    "步行街",
];
const SURNAMES: &[&str] = &[
    "张", "李", "王", "刘", "陈", "杨", "赵", "黄", "周", "吴", "罗", "何",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰",
];
const TIBETAN: &[&str] = &[
    "扎西", "卓玛", "多吉", "格桑", "央金", "泽仁", "拉姆", "尼玛", "次仁", "措姆", "旦增", "德吉",
];
const PLEDGES: &[&str] = &[
    "明码标价",
    "诚信经营",
    "不欺客宰客",
    "假一赔十",
    "无理由退货",
    "文明服务",
];

/// One merchant with its records (ids not yet known).
pub struct DemoMerchant {
    pub fields: MerchantFields,
    pub licences: Vec<NewLicence>,
    pub inspections: Vec<NewInspection>,
    pub credit: Vec<NewCreditRecord>,
    pub grade: grade::Assessment,
}

fn person(rng: &mut Rng) -> String {
    if rng.chance(450) {
        rng.pick(TIBETAN).to_string()
    } else {
        format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
    }
}

fn phone(rng: &mut Rng) -> String {
    if rng.chance(300) {
        format!("0837-{}", 2_000_000 + rng.below(7_999_999))
    } else {
        let second = rng.pick(&["3", "5", "8", "9"]);
        format!("1{second}{:09}", rng.below(1_000_000_000))
    }
}

fn days_before(today: NaiveDate, days: u64) -> NaiveDate {
    today.checked_sub_days(Days::new(days)).unwrap_or(today)
}

fn uscc(rng: &mut Rng, company: bool, region: &str) -> String {
    let head = if company { "91" } else { "92" };
    let mut body = String::from("MA6");
    for _ in 0..5 {
        body.push(*rng.pick(ALPHABET) as char);
    }
    Uscc::build(head, region, &body)
        .map(Uscc::into_string)
        .unwrap_or_else(|_| unreachable!("generated codes are valid by construction"))
}

/// The demo merchants, in a stable order.
pub fn generate(today: NaiveDate) -> Vec<DemoMerchant> {
    let mut rng = Rng::new(0x5132_0020_2010_5600);
    let mut out = Vec::with_capacity(1056);
    let mut used = std::collections::HashSet::new();
    let mut serious_done = false;
    for &(county, count, short, town, seasonal_county) in COUNTIES {
        let dept = format!(
            "{short}{}市场监督管理局",
            if county == "513201" { "市" } else { "县" }
        );
        for i in 0..count {
            let roll = rng.below(1000);
            let category = match roll {
                0..=399 => Category::Restaurant,
                400..=649 => Category::Hotel,
                650..=769 => Category::Pharmacy,
                770..=969 => Category::Retail,
                _ => Category::ScenicSpot,
            };
            let company = matches!(
                category,
                Category::Hotel | Category::ScenicSpot | Category::Pharmacy
            ) && rng.chance(600);
            let mut code = uscc(&mut rng, company, county);
            while !used.insert(code.clone()) {
                code = uscc(&mut rng, company, county);
            }
            let street = rng.pick(STREETS);
            let base_name = match category {
                Category::Restaurant => format!("{}{}", rng.pick(PREFIXES), rng.pick(RESTAURANTS)),
                Category::Hotel => format!("{}{}{}", short, rng.pick(PREFIXES), rng.pick(HOTELS)),
                Category::Pharmacy => {
                    format!("{short}{}大药房（{street}店）", rng.pick(PHARMACY_BRANDS))
                }
                Category::Retail => format!("{}{}", rng.pick(PREFIXES), rng.pick(RETAIL)),
                _ => format!("{short}{}", rng.pick(SCENIC)),
            };
            let name = if i % 7 == 3 {
                format!("{base_name}（{}号店）", 1 + rng.below(3))
            } else {
                base_name
            };
            let registered_on = days_before(today, 200 + rng.below(365 * 12));
            let seasonal = seasonal_county
                && matches!(
                    category,
                    Category::Hotel | Category::Restaurant | Category::ScenicSpot
                )
                && rng.chance(250);
            let opening_months: Vec<i16> = if seasonal { (5..=10).collect() } else { vec![] };
            let month = today.month() as i16;
            let status = if rng.chance(12) {
                "closed"
            } else if seasonal && !opening_months.contains(&month) {
                "seasonal_closed"
            } else {
                "open"
            };
            let pledges: Vec<String> = if rng.chance(600) {
                let a = rng.below(PLEDGES.len() as u64) as usize;
                vec![
                    PLEDGES[a].to_owned(),
                    PLEDGES[(a + 1) % PLEDGES.len()].to_owned(),
                ]
            } else {
                vec![]
            };
            let fields = MerchantFields {
                uscc: code,
                name,
                legal_representative: Some(person(&mut rng)),
                category: category.as_str().to_owned(),
                region_code: county.to_owned(),
                address: Some(format!(
                    "阿坝州{short}{}{town}{street}{}号",
                    if county == "513201" { "市" } else { "县" },
                    1 + rng.below(280)
                )),
                phone: Some(phone(&mut rng)),
                business_scope: Some(
                    match category {
                        Category::Restaurant => "餐饮服务；食品销售",
                        Category::Hotel => "住宿服务；餐饮服务",
                        Category::Pharmacy => "药品零售；医疗器械经营",
                        Category::Retail => "日用百货、预包装食品、工艺品销售",
                        _ => "旅游景区管理；游览服务",
                    }
                    .to_owned(),
                ),
                registered_on: Some(registered_on),
                status: status.to_owned(),
                opening_hours: Some(
                    match category {
                        Category::Hotel => "全天",
                        Category::ScenicSpot => "08:00-18:00",
                        _ => "09:00-21:30",
                    }
                    .to_owned(),
                ),
                opening_months,
                description: None,
                pledges,
                region_override_reason: None,
                uscc_warning: false,
                uscc_check_override_reason: None,
            };

            // Licences.
            let mut licences = vec![NewLicence {
                merchant_id: 0,
                kind: "business_licence".into(),
                number: fields.uscc.clone(),
                issuer: dept.clone(),
                valid_from: registered_on,
                valid_until: None,
                created_by: None,
            }];
            let permit = match category {
                Category::Restaurant => Some(("food_business", "JY2")),
                Category::Pharmacy => Some(("drug_business", "川CB")),
                Category::Hotel => Some(("special_trade", "川公特")),
                _ => None,
            };
            if let Some((kind, prefix)) = permit {
                let from = days_before(today, rng.below(365 * 6));
                licences.push(NewLicence {
                    merchant_id: 0,
                    kind: kind.into(),
                    number: format!("{prefix}{}{:07}", &county[..4], rng.below(10_000_000)),
                    issuer: dept.clone(),
                    valid_from: from,
                    // five years: some have lapsed
                    valid_until: from.checked_add_days(Days::new(5 * 365)),
                    created_by: None,
                });
            }

            // Inspections over two years.
            let mut inspections = Vec::new();
            for _ in 0..(1 + rng.below(4)) {
                let r = rng.below(1000);
                let result = if r < 880 {
                    InspectionResult::Pass
                } else if r < 950 {
                    InspectionResult::Rectify
                } else {
                    InspectionResult::Fail
                };
                inspections.push(NewInspection {
                    merchant_id: 0,
                    kind: rng
                        .pick(&["routine", "random", "special", "sampling"])
                        .to_string(),
                    inspected_on: days_before(today, rng.below(730)),
                    department: dept.clone(),
                    result: result.as_str().into(),
                    summary: match result {
                        InspectionResult::Pass => "检查未发现问题",
                        InspectionResult::Rectify => "价格公示不规范，责令限期整改",
                        InspectionResult::Fail => "发现超过保质期食品，依法处理",
                    }
                    .into(),
                    created_by: None,
                });
            }

            // Credit events.
            let mut credit = Vec::new();
            let mut event = |kind: CreditKind, decided: NaiveDate, no: String, summary: &str| {
                credit.push(NewCreditRecord {
                    merchant_id: 0,
                    kind: kind.as_str().into(),
                    department: dept.clone(),
                    decision_no: no,
                    decided_on: decided,
                    summary: summary.into(),
                    publicity_until: crate::service::records::default_publicity_until(
                        kind, decided,
                    ),
                    created_by: None,
                });
            };
            if rng.chance(35) {
                let d = days_before(today, rng.below(700));
                let no = format!("{short}市监罚〔{}〕{}号", d.year(), 1 + rng.below(120));
                event(CreditKind::Penalty, d, no, "未按规定明码标价，罚款 2000 元");
            }
            if rng.chance(15) {
                let d = days_before(today, rng.below(500));
                event(
                    CreditKind::AbnormalList,
                    d,
                    String::new(),
                    "未按期公示年度报告",
                );
            }
            if !serious_done && county == "513225" && category == Category::Hotel {
                serious_done = true;
                let d = days_before(today, 120);
                let no = format!("阿州市监罚〔{}〕7号", d.year());
                event(
                    CreditKind::SeriousViolation,
                    d,
                    no,
                    "旺季哄抬房价，情节严重",
                );
            }
            if rng.chance(50) {
                let d = days_before(today, rng.below(200));
                event(
                    CreditKind::Commendation,
                    d,
                    String::new(),
                    "放心舒心消费示范户",
                );
            }

            let facts: Vec<CreditFact> = credit
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    Some(CreditFact {
                        id: i as i64,
                        kind: c.kind.parse().ok()?,
                        department: c.department.clone(),
                        decided_on: c.decided_on,
                        publicity_until: c.publicity_until,
                    })
                })
                .collect();
            let ifacts: Vec<InspectionFact> = inspections
                .iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    Some(InspectionFact {
                        id: i as i64,
                        result: x.result.parse().ok()?,
                        department: x.department.clone(),
                        inspected_on: x.inspected_on,
                    })
                })
                .collect();
            let grade = grade::assess(&facts, &ifacts, 0, today);
            out.push(DemoMerchant {
                fields,
                licences,
                inspections,
                credit,
                grade,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programmes_figure_deterministic_and_valid() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let a = generate(today);
        let b = generate(today);
        assert_eq!(a.len(), 1056);
        assert_eq!(COUNTIES.iter().map(|c| c.1).sum::<usize>(), 1056);
        assert!(a.iter().zip(&b).all(|(x, y)| x.fields == y.fields));
        let mut codes = std::collections::HashSet::new();
        for m in &a {
            let u = Uscc::parse(&m.fields.uscc).unwrap();
            assert!(!u.check_char_warning());
            assert_eq!(u.region_part(), m.fields.region_code);
            assert!(codes.insert(m.fields.uscc.clone()));
        }
        let count = |f: &dyn Fn(&DemoMerchant) -> bool| a.iter().filter(|m| f(m)).count();
        for c in ["pharmacy", "restaurant", "scenic_spot", "hotel", "retail"] {
            assert!(count(&|m| m.fields.category == c) > 10, "{c}");
        }
        assert_eq!(
            count(&|m| m.credit.iter().any(|c| c.kind == "serious_violation")),
            1
        );
        assert!(count(&|m| m.credit.iter().any(|c| c.kind == "penalty")) >= 10);
        assert!(count(&|m| m.credit.iter().any(|c| c.kind == "abnormal_list")) >= 5);
        assert!(count(&|m| m.grade.model_merchant()) >= 20);
        assert!(count(&|m| m.fields.status == "seasonal_closed") >= 20);
        assert_eq!(count(&|m| m.grade.grade == grade::Grade::D), 1);
    }
}
