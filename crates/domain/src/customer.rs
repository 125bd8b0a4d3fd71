//! The buyer as an order records them, and postal addresses.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::input::{normalize_ascii, parse_date, squash_spaces, tel_digits};
use crate::{FieldError, Invalid};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男性",
            Sex::Female => "女性",
        }
    }
    pub fn from_code(s: &str) -> Option<Sex> {
        match s {
            "male" => Some(Sex::Male),
            "female" => Some(Sex::Female),
            _ => None,
        }
    }
}

pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// A stored postal code as people write it: `1500001` → `〒150-0001`; anything else (empty,
/// or not 7 digits) as it is.
pub fn postal_label(p: &str) -> String {
    if p.len() == 7 && p.bytes().all(|b| b.is_ascii_digit()) {
        format!("〒{}-{}", &p[..3], &p[3..])
    } else {
        p.to_owned()
    }
}

/// Raw input for a person and address, as the API and forms send it.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    pub family_name: String,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub family_kana: String,
    #[serde(default)]
    pub given_kana: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub prefecture: String,
    /// 住所1 (市区町村・番地)
    #[serde(default)]
    pub address1: String,
    /// 住所2 (建物名など)
    #[serde(default)]
    pub address2: String,
    #[serde(default)]
    pub tel: String,
}

/// A validated name and address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Person {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub company: String,
    /// 7 digits, no hyphen
    pub postal_code: String,
    pub prefecture: String,
    pub address1: String,
    pub address2: String,
    /// digits only
    pub tel: String,
}

impl Person {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.family_name, self.given_name)
            .trim()
            .to_owned()
    }
    pub fn full_kana(&self) -> String {
        format!("{} {}", self.family_kana, self.given_kana)
            .trim()
            .to_owned()
    }
    pub fn to_input(&self) -> PersonInput {
        PersonInput {
            family_name: self.family_name.clone(),
            given_name: self.given_name.clone(),
            family_kana: self.family_kana.clone(),
            given_kana: self.given_kana.clone(),
            company: self.company.clone(),
            postal_code: self.postal_code.clone(),
            prefecture: self.prefecture.clone(),
            address1: self.address1.clone(),
            address2: self.address2.clone(),
            tel: self.tel.clone(),
        }
    }
}

pub(crate) fn text(errs: &mut Invalid, field: &str, s: &str, required: bool, max: usize) -> String {
    let v = s.trim().to_owned();
    if required && v.is_empty() {
        errs.push(FieldError::new(field, "required", "入力してください"));
    } else if v.chars().count() > max {
        errs.push(FieldError::new(
            field,
            "too_long",
            format!("{max}文字以内で入力してください"),
        ));
    } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errs.push(FieldError::new(
            field,
            "control_character",
            "制御文字（NULなど）は入力できません",
        ));
    }
    v
}

/// Katakana (full-width), the prolonged sound mark and spaces only.
fn kana(errs: &mut Invalid, field: &str, s: &str) -> String {
    let v = text(errs, field, s, false, 50);
    let ok = v
        .chars()
        .all(|c| ('\u{30A0}'..='\u{30FF}').contains(&c) || c == ' ' || c == '\u{3000}');
    if !ok {
        errs.push(FieldError::new(
            field,
            "not_katakana",
            "カタカナで入力してください",
        ));
    }
    v
}

impl PersonInput {
    /// `address_required`: a delivery address needs one; a customer record may not.
    pub fn validate(&self, address_required: bool) -> Result<Person, Invalid> {
        let mut e = Invalid::default();
        let family_name = text(&mut e, "family_name", &self.family_name, true, 50);
        let given_name = text(&mut e, "given_name", &self.given_name, false, 50);
        let family_kana = kana(&mut e, "family_kana", &self.family_kana);
        let given_kana = kana(&mut e, "given_kana", &self.given_kana);
        let company = text(&mut e, "company", &self.company, false, 100);
        let postal_code: String = normalize_ascii(&self.postal_code).replace('-', "");
        if (address_required || !postal_code.is_empty())
            && (postal_code.len() != 7 || !postal_code.chars().all(|c| c.is_ascii_digit()))
        {
            e.push(FieldError::new(
                "postal_code",
                "invalid_postal_code",
                "郵便番号は7桁の数字で入力してください（例: 123-4567）",
            ));
        }
        let prefecture = self.prefecture.trim().to_owned();
        if (address_required || !prefecture.is_empty())
            && !PREFECTURES.contains(&prefecture.as_str())
        {
            e.push(FieldError::new(
                "prefecture",
                "unknown_prefecture",
                "都道府県を選択してください（例: 東京都）",
            ));
        }
        let address1 = text(&mut e, "address1", &self.address1, address_required, 200);
        let address2 = text(&mut e, "address2", &self.address2, false, 200);
        let tel = tel_digits(&self.tel);
        if (address_required || !self.tel.trim().is_empty()) && !(10..=11).contains(&tel.len()) {
            e.push(FieldError::new(
                "tel",
                "invalid_tel",
                "電話番号は10桁または11桁の数字で入力してください",
            ));
        }
        e.into_result(Person {
            family_name,
            given_name,
            family_kana,
            given_kana,
            company,
            postal_code,
            prefecture,
            address1,
            address2,
            tel,
        })
    }
}

pub fn validate_email(field: &str, s: &str, required: bool) -> Result<String, Invalid> {
    let v = s.trim().to_owned();
    if v.is_empty() {
        return if required {
            Err(Invalid::one(
                field,
                "required",
                "メールアドレスを入力してください",
            ))
        } else {
            Ok(v)
        };
    }
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(v)
    } else {
        Err(Invalid::one(
            field,
            "invalid_email",
            format!("メールアドレスの形式が正しくありません（入力値: {s}）"),
        ))
    }
}

pub fn validate_birth_date(field: &str, s: Option<&str>) -> Result<Option<Date>, Invalid> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let d = parse_date(field, s)?;
            if d.year() < 1900 {
                return Err(Invalid::one(
                    field,
                    "out_of_range",
                    "生年月日が正しくありません",
                ));
            }
            Ok(Some(d))
        }
    }
}

pub fn parse_sex(field: &str, s: Option<&str>) -> Result<Option<Sex>, Invalid> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Sex::from_code(s)
            .map(Some)
            .ok_or_else(|| Invalid::one(field, "unknown_sex", "性別は male または female です")),
    }
}

/// Searchable form of a name or kana: no spaces.
pub fn search_key(family: &str, given: &str) -> String {
    squash_spaces(&format!("{family}{given}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yamada() -> PersonInput {
        PersonInput {
            family_name: "山田".into(),
            given_name: "太郎".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "タロウ".into(),
            postal_code: "１２３－４５６７".into(),
            prefecture: "東京都".into(),
            address1: "千代田区1-1".into(),
            tel: "03-1234-5678".into(),
            ..Default::default()
        }
    }

    #[test]
    fn normalizes_postal_code_and_tel() {
        let p = yamada().validate(true).unwrap();
        assert_eq!(p.postal_code, "1234567");
        assert_eq!(p.tel, "0312345678");
        assert_eq!(p.full_name(), "山田 太郎");
    }

    #[test]
    fn reports_every_bad_field() {
        let mut i = yamada();
        i.family_name = " ".into();
        i.family_kana = "やまだ".into();
        i.prefecture = "東京".into();
        let e = i.validate(true).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["family_name", "family_kana", "prefecture"]);
    }

    #[test]
    fn emails() {
        assert!(validate_email("email", "a@example.jp", true).is_ok());
        assert!(validate_email("email", "a@b", true).is_err());
        assert!(validate_email("email", "", true).is_err());
        assert!(validate_email("email", "", false).is_ok());
    }
}

/// A member (会員) as sent by the API.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(flatten)]
    pub person: PersonInput,
    pub email: String,
    #[serde(default)]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub sex: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerDraft {
    #[serde(flatten)]
    pub person: Person,
    pub email: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub birth_date: Option<Date>,
    pub sex: Option<Sex>,
}

impl CustomerInput {
    pub fn validate(&self) -> Result<CustomerDraft, Invalid> {
        let mut e = Invalid::default();
        let person = e.take(self.person.validate(false));
        let email = e.take(validate_email("email", &self.email, true));
        let birth_date = e.take(validate_birth_date(
            "birth_date",
            self.birth_date.as_deref(),
        ));
        let sex = e.take(parse_sex("sex", self.sex.as_deref()));
        match (person, email, birth_date, sex) {
            (Some(person), Some(email), Some(birth_date), Some(sex)) if e.is_empty() => {
                Ok(CustomerDraft {
                    person,
                    email,
                    birth_date,
                    sex,
                })
            }
            _ => Err(e),
        }
    }
}

// A member, as stored.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    #[serde(flatten)]
    pub draft: CustomerDraft,
    /// Current points balance.
    pub points: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}
