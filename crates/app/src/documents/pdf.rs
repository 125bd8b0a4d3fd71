//! Slips as PDF: A4 portrait, one slip after another (each from a new page), the items'
//! table broken over as many pages as it needs with its header repeated, page numbers per
//! slip. Text is IPAexゴシック (bundled, subset into the PDF by krilla).
//!
//! Two steps keep it readable: `layout` turns slips into pages of plain drawing operations
//! (positions in points, y downwards from the top), `draw` hands those to krilla. Knowing
//! all pages before drawing is what lets the footer say `1 / 3`.

use anyhow::Context;
use std::sync::LazyLock;

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, GlyphId, MetadataProvider};

use super::{REDUCED_NOTE, Slip, SlipKind};
use crate::AppError;

/// IPAexゴシック; its license is beside it (crates/app/assets/fonts/).
static FONT_DATA: &[u8] = include_bytes!("../../assets/fonts/ipaexg.ttf");

static FONT: LazyLock<Option<Font>> = LazyLock::new(|| Font::new(FONT_DATA.into(), 0));
static FACE: LazyLock<Option<FontRef<'static>>> = LazyLock::new(|| FontRef::new(FONT_DATA).ok());

// A4 in points, and the printable area.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 36.0;
const RIGHT: f32 = PAGE_W - 36.0;
const TOP: f32 = 40.0;
/// Content stops here; the footer sits below.
const BOTTOM: f32 = PAGE_H - 52.0;
const FOOTER_Y: f32 = PAGE_H - 28.0;

const BODY: f32 = 9.0;
const SMALL: f32 = 7.5;
const LINE: f32 = 13.0;
const PAD: f32 = 4.0;
const GRID: f32 = 0.6;
const HEAD_GRAY: u8 = 232;

/// One drawing operation. `y` of text is its baseline.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
        bold: bool,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
    },
    /// A filled gray box (table heads, the amount due).
    Shade {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: u8,
    },
    /// A box outline.
    Frame { x: f32, y: f32, w: f32, h: f32 },
}

/// Width of `s` at `size` points, from the font's advance widths.
fn width(s: &str, size: f32) -> f32 {
    let Some(face) = FACE.as_ref() else {
        return s.chars().count() as f32 * size;
    };
    let cmap = face.charmap();
    let metrics = face.glyph_metrics(Size::new(size), LocationRef::default());
    s.chars()
        .map(|c| {
            let g = cmap.map(c).unwrap_or(GlyphId::NOTDEF);
            metrics.advance_width(g).unwrap_or(size)
        })
        .sum()
}

/// Characters a line may not begin with (行頭禁則).
const NO_LINE_START: &str = "、。，．・：；？！ー）］｝」』】〕〉》ゝゞ々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ,.:;?!)]}%";

/// Break `s` into lines no wider than `max`: at any character (Japanese has no spaces to
/// break at), and at the line breaks the text has.
fn wrap(s: &str, size: f32, max: f32) -> Vec<String> {
    let mut out = vec![];
    for para in s.lines() {
        let mut line = String::new();
        let mut w = 0.0;
        for c in para.chars().filter(|c| !c.is_control()) {
            let cw = width(c.encode_utf8(&mut [0; 4]), size);
            if w + cw > max && !line.is_empty() {
                // 禁則: a mark that may not begin a line takes the character before it along.
                let carried = if NO_LINE_START.contains(c) && line.chars().count() > 1 {
                    line.pop()
                } else {
                    None
                };
                out.push(std::mem::take(&mut line));
                w = 0.0;
                if let Some(p) = carried {
                    line.push(p);
                    w = width(p.encode_utf8(&mut [0; 4]), size);
                }
            }
            line.push(c);
            w += cw;
        }
        out.push(line);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
    Center,
}

/// The pages of one slip as they are being filled.
struct Writer {
    pages: Vec<Vec<Op>>,
    /// Where the next thing goes on the current page.
    y: f32,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            pages: vec![vec![]],
            y: TOP,
        }
    }

    fn op(&mut self, op: Op) {
        if let Some(p) = self.pages.last_mut() {
            p.push(op);
        }
    }

    fn new_page(&mut self) {
        self.pages.push(vec![]);
        self.y = TOP;
    }

    fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    /// One line of text in the box `x..x+w`.
    fn text(&mut self, (x, w): (f32, f32), y: f32, size: f32, s: &str, align: Align, bold: bool) {
        let tw = width(s, size);
        let x = match align {
            Align::Left => x,
            Align::Right => x + w - tw,
            Align::Center => x + (w - tw) / 2.0,
        };
        self.op(Op::Text {
            x,
            y,
            size,
            text: s.to_owned(),
            bold,
        });
    }

    /// Wrapped text from `top`; returns the height used.
    fn para(&mut self, x: f32, w: f32, top: f32, size: f32, s: &str, bold: bool) -> f32 {
        let lh = size * 1.45;
        let lines = wrap(s, size, w);
        for (i, l) in lines.iter().enumerate() {
            self.text(
                (x, w),
                top + size + i as f32 * lh,
                size,
                l,
                Align::Left,
                bold,
            );
        }
        lines.len() as f32 * lh
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, width: f32) {
        self.op(Op::Line {
            x1,
            y1: y,
            x2,
            y2: y,
            width,
        });
    }

    fn vline(&mut self, x: f32, y1: f32, y2: f32) {
        self.op(Op::Line {
            x1: x,
            y1,
            x2: x,
            y2,
            width: GRID,
        });
    }
}

/// A column of the items table.
struct Col {
    title: &'static str,
    w: f32,
    align: Align,
}

const COLS: [Col; 6] = [
    Col {
        title: "商品コード",
        w: 74.0,
        align: Align::Left,
    },
    Col {
        title: "商品名",
        w: 0.0, // the rest of the width
        align: Align::Left,
    },
    Col {
        title: "税率",
        w: 34.0,
        align: Align::Center,
    },
    Col {
        title: "単価（税込）",
        w: 66.0,
        align: Align::Right,
    },
    Col {
        title: "数量",
        w: 40.0,
        align: Align::Right,
    },
    Col {
        title: "金額（税込）",
        w: 74.0,
        align: Align::Right,
    },
];

/// Left edge and width of each column.
fn columns() -> Vec<(f32, f32)> {
    let fixed: f32 = COLS.iter().map(|c| c.w).sum();
    let mut x = LEFT;
    COLS.iter()
        .map(|c| {
            let w = if c.w == 0.0 {
                RIGHT - LEFT - fixed
            } else {
                c.w
            };
            let col = (x, w);
            x += w;
            col
        })
        .collect()
}

fn table_head(w: &mut Writer) {
    let cols = columns();
    let h = LINE + 2.0 * PAD - 2.0;
    let top = w.y;
    w.op(Op::Shade {
        x: LEFT,
        y: top,
        w: RIGHT - LEFT,
        h,
        gray: HEAD_GRAY,
    });
    for (c, (x, cw)) in COLS.iter().zip(&cols) {
        let align = if c.align == Align::Right {
            Align::Center
        } else {
            c.align
        };
        w.text(
            (x + PAD, cw - 2.0 * PAD),
            top + PAD + 8.0,
            8.0,
            c.title,
            align,
            false,
        );
    }
    grid_row(w, top, h);
    w.y += h;
}

/// The lines around one row of the table.
fn grid_row(w: &mut Writer, top: f32, h: f32) {
    w.hline(LEFT, RIGHT, top, GRID);
    w.hline(LEFT, RIGHT, top + h, GRID);
    let cols = columns();
    for (x, _) in &cols {
        w.vline(*x, top, top + h);
    }
    w.vline(RIGHT, top, top + h);
}

/// The heading of a page the items ran over to.
fn continued(w: &mut Writer, s: &Slip) {
    w.text(
        (LEFT, RIGHT - LEFT),
        w.y + 11.0,
        11.0,
        &format!("{}（続き）", s.title),
        Align::Left,
        true,
    );
    w.text(
        (LEFT, RIGHT - LEFT),
        w.y + 11.0,
        BODY,
        &format!("注文番号 {}", s.number),
        Align::Right,
        false,
    );
    w.y += 24.0;
}

fn items(w: &mut Writer, s: &Slip) {
    let cols = columns();
    if w.room() < 3.0 * LINE {
        w.new_page();
        continued(w, s);
    }
    table_head(w);
    for it in &s.items {
        let cells: [&str; 6] = [
            &it.code,
            &it.name,
            &it.rate,
            &it.unit_price,
            &it.quantity,
            &it.amount,
        ];
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(&cols)
            .map(|(text, (_, cw))| wrap(text, BODY, cw - 2.0 * PAD))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let h = lines as f32 * LINE + 2.0 * PAD - 2.0;
        if h > w.room() {
            w.new_page();
            continued(w, s);
            table_head(w);
        }
        let top = w.y;
        for ((lines, c), (x, cw)) in wrapped.iter().zip(&COLS).zip(&cols) {
            for (i, l) in lines.iter().enumerate() {
                let y = top + PAD + 8.5 + i as f32 * LINE;
                w.text((x + PAD, cw - 2.0 * PAD), y, BODY, l, c.align, false);
            }
        }
        grid_row(w, top, h);
        w.y += h;
    }
}

/// 税率別内訳 (left) and the totals (right), kept on one page.
// Long: drawing code; the two columns share the page's coordinates.
fn totals(w: &mut Writer, s: &Slip) {
    let row = LINE + 2.0 * PAD - 2.0;
    let tax_rows = s.taxes.len() as f32 + 1.0;
    let note = if s.has_reduced { LINE } else { 0.0 };
    let height = (tax_rows * row + note + 16.0).max(s.sums.len() as f32 * row) + 12.0;
    if height > w.room() {
        w.new_page();
        continued(w, s);
    }
    let top = w.y + 12.0;

    // 税率別内訳
    let tx = LEFT;
    let tw = [70.0, 90.0, 80.0];
    w.text((tx, 240.0), top + 8.0, 8.0, "税率別内訳", Align::Left, true);
    let mut y = top + 12.0;
    w.op(Op::Shade {
        x: tx,
        y,
        w: tw.iter().sum(),
        h: row,
        gray: HEAD_GRAY,
    });
    let rows: Vec<[&str; 3]> = std::iter::once(["税率", "対象額（税込）", "消費税額"])
        .chain(
            s.taxes
                .iter()
                .map(|t| [t.label.as_str(), t.amount.as_str(), t.tax.as_str()]),
        )
        .collect();
    for (i, r) in rows.iter().enumerate() {
        let mut x = tx;
        for (j, cell) in r.iter().enumerate() {
            let align = if i == 0 || j == 0 {
                Align::Center
            } else {
                Align::Right
            };
            let size = if i == 0 { 8.0 } else { BODY };
            w.text(
                (x + PAD, tw[j] - 2.0 * PAD),
                y + PAD + 8.5,
                size,
                cell,
                align,
                false,
            );
            w.vline(x, y, y + row);
            x += tw[j];
        }
        w.vline(x, y, y + row);
        w.hline(tx, x, y, GRID);
        w.hline(tx, x, y + row, GRID);
        y += row;
    }
    if s.has_reduced {
        w.text(
            (tx, 240.0),
            y + 11.0,
            SMALL,
            REDUCED_NOTE,
            Align::Left,
            false,
        );
    }

    // 小計 … お支払い合計
    let sx = RIGHT - 230.0;
    let lw = 110.0;
    let mut y = top;
    for l in &s.sums {
        if l.grand {
            w.op(Op::Shade {
                x: sx,
                y,
                w: RIGHT - sx,
                h: row,
                gray: HEAD_GRAY,
            });
        }
        w.text(
            (sx + PAD, lw),
            y + PAD + 8.5,
            BODY,
            &l.label,
            Align::Left,
            l.grand,
        );
        w.text(
            (sx + lw, RIGHT - sx - lw - PAD),
            y + PAD + 8.5,
            if l.grand { 10.5 } else { BODY },
            &l.amount,
            Align::Right,
            l.grand,
        );
        w.hline(sx, RIGHT, y + row, if l.grand { 1.2 } else { GRID });
        y += row;
    }
    w.y += height;
}

fn message(w: &mut Writer, s: &Slip) {
    if s.message.is_empty() {
        return;
    }
    let inner = RIGHT - LEFT - 2.0 * PAD - 4.0;
    let lines = wrap(&s.message, BODY, inner).len() as f32;
    let h = lines * BODY * 1.45 + 2.0 * PAD + 14.0;
    if h + 8.0 > w.room() {
        w.new_page();
        continued(w, s);
    }
    let top = w.y + 8.0;
    w.text(
        (LEFT, 200.0),
        top + 8.0,
        8.0,
        "メッセージ",
        Align::Left,
        true,
    );
    w.op(Op::Frame {
        x: LEFT,
        y: top + 12.0,
        w: RIGHT - LEFT,
        h: h - 12.0,
    });
    w.para(
        LEFT + PAD + 2.0,
        inner,
        top + 12.0 + PAD,
        BODY,
        &s.message,
        false,
    );
    w.y = top + h;
}

/// Title, number and dates, the addressee, the issuer: the top of a slip's first page.
/// The left column holds who it is for (and the amount due), the right one who issues it.
// Long: drawing code, position by position; its parts share the running coordinates.
fn heading(w: &mut Writer, s: &Slip) {
    let title: String = s.title.chars().map(|c| format!("{c} ")).collect();
    w.text(
        (LEFT, RIGHT - LEFT),
        TOP + 20.0,
        20.0,
        title.trim_end(),
        Align::Center,
        true,
    );
    let meta = [
        format!("注文番号　{}", s.number),
        format!("発行日　{}", s.issued_on),
        format!("ご注文日　{}", s.ordered_at),
    ];
    let mut right_y = TOP + 44.0;
    for m in &meta {
        w.text(
            (LEFT, RIGHT - LEFT),
            right_y + BODY,
            BODY,
            m,
            Align::Right,
            false,
        );
        right_y += LINE;
    }

    let left_w = 290.0;
    let mut left_y = TOP + 44.0;
    if s.kind == SlipKind::OrderSlip {
        left_y += party_box(w, LEFT, left_y, 250.0, "ご注文者", &s.customer, &s.email);
    } else {
        if s.kind != SlipKind::Receipt {
            let c = &s.customer;
            for l in [c.postal.as_str(), c.address.as_str()] {
                if !l.is_empty() {
                    left_y += w.para(LEFT, left_w, left_y, BODY, l, false);
                }
            }
            left_y += 4.0;
        }
        let h = w.para(LEFT, left_w, left_y, 14.0, &s.addressee, true);
        left_y += h + 2.0;
        w.hline(LEFT, LEFT + left_w, left_y, 0.9);
        left_y += 12.0;
        w.y = left_y;
        if s.kind != SlipKind::Receipt {
            w.text((LEFT, left_w), w.y + BODY, BODY, s.lead, Align::Left, false);
            w.y += LINE + 2.0;
        }
        amount_box(w, s, left_w);
        if s.kind == SlipKind::Receipt {
            w.text(
                (LEFT, left_w),
                w.y + 10.0,
                10.0,
                &s.proviso,
                Align::Left,
                false,
            );
            w.text((LEFT, left_w), w.y + 26.0, BODY, s.lead, Align::Left, false);
            w.y += 32.0;
        }
        left_y = w.y;
    }

    // The issuer (its registration number makes the invoice and receipt 適格請求書).
    let ix = RIGHT - 220.0;
    let iw = 220.0;
    right_y += 10.0;
    if s.kind == SlipKind::OrderSlip {
        right_y += party_box(w, ix, right_y, iw, "お届け先", &s.delivery, "");
    } else {
        let i = &s.issuer;
        right_y += w.para(ix, iw, right_y, 11.0, &i.name, true);
        let tel = if i.tel.is_empty() {
            String::new()
        } else {
            format!("TEL {}", i.tel)
        };
        let number = if i.invoice_number.is_empty() {
            String::new()
        } else {
            format!("登録番号 {}", i.invoice_number)
        };
        for l in [&i.shop_name, &i.postal, &i.address, &tel, &number] {
            if !l.is_empty() {
                right_y += w.para(ix, iw, right_y, BODY, l, false);
            }
        }
    }
    w.y = left_y.max(right_y) + 8.0;

    if s.kind == SlipKind::OrderSlip {
        order_facts(w, s);
        return;
    }
    let mut facts = vec![("お支払方法", s.payment_method.clone())];
    if s.kind == SlipKind::DeliveryNote && s.delivery != s.customer {
        let d = &s.delivery;
        facts.push((
            "お届け先",
            format!("{} {} {} 様", d.postal, d.address, d.name),
        ));
    }
    for (k, v) in facts {
        w.text((LEFT, 70.0), w.y + BODY, BODY, k, Align::Left, false);
        let h = w.para(LEFT + 70.0, RIGHT - LEFT - 70.0, w.y, BODY, &v, false);
        w.y += h.max(LINE);
    }
    w.y += 6.0;
}

/// The amount due in large print, with its label, `bw` wide.
fn amount_box(w: &mut Writer, s: &Slip, bw: f32) {
    let h = 30.0;
    w.op(Op::Shade {
        x: LEFT,
        y: w.y,
        w: bw,
        h,
        gray: 242,
    });
    w.hline(LEFT, LEFT + bw, w.y + h, 1.2);
    w.text(
        (LEFT + 8.0, 100.0),
        w.y + 19.0,
        10.0,
        s.headline_label,
        Align::Left,
        true,
    );
    w.text(
        (LEFT + 100.0, bw - 150.0),
        w.y + 21.0,
        16.0,
        &s.headline,
        Align::Right,
        true,
    );
    w.text(
        (LEFT + bw - 46.0, 40.0),
        w.y + 20.0,
        8.0,
        "（税込）",
        Align::Right,
        false,
    );
    w.y += h + 8.0;
}

/// A name-and-address block with a caption (受注伝票); returns its height.
fn party_box(
    w: &mut Writer,
    x: f32,
    top: f32,
    bw: f32,
    caption: &str,
    p: &super::Party,
    email: &str,
) -> f32 {
    let mut y = top;
    w.text((x, bw), y + 8.0, 8.0, caption, Align::Left, true);
    y += 12.0;
    y += w.para(x, bw, y, 11.0, &format!("{} 様", p.name), true);
    let tel = if p.tel.is_empty() {
        String::new()
    } else {
        format!("TEL {}", p.tel)
    };
    for l in [
        p.kana.as_str(),
        p.company.as_str(),
        p.postal.as_str(),
        p.address.as_str(),
        tel.as_str(),
        email,
    ] {
        if !l.is_empty() {
            y += w.para(x, bw, y, BODY, l, false);
        }
    }
    y - top
}

/// 受注伝票: how it is paid and delivered, and what the buyer and the shop wrote.
fn order_facts(w: &mut Writer, s: &Slip) {
    let rows = [
        ("お支払方法", s.payment_method.as_str()),
        ("お支払い合計", s.headline.as_str()),
        ("お届け日時", s.delivery_when.as_str()),
        ("備考", s.remarks.as_str()),
        ("ショップ用メモ", s.memo.as_str()),
    ];
    let kw = 80.0;
    let vw = RIGHT - LEFT - kw - 2.0 * PAD;
    let lh = LINE;
    for (k, v) in rows {
        let v = if v.is_empty() { "—" } else { v };
        let mut lines = wrap(v, BODY, vw);
        // A long 備考 or memo (up to 4,000 characters) runs over pages, a piece per page.
        while !lines.is_empty() {
            let fit = ((w.room() - 2.0 * PAD) / lh).floor().max(0.0) as usize;
            if fit == 0 {
                w.new_page();
                continued(w, s);
                continue;
            }
            let rest = lines.split_off(fit.min(lines.len()));
            let h = lines.len() as f32 * lh + 2.0 * PAD;
            let top = w.y;
            w.op(Op::Shade {
                x: LEFT,
                y: top,
                w: kw,
                h,
                gray: HEAD_GRAY,
            });
            w.text(
                (LEFT + PAD, kw),
                top + PAD + 8.5,
                BODY,
                k,
                Align::Left,
                false,
            );
            for (i, l) in lines.iter().enumerate() {
                let y = top + PAD + 8.5 + i as f32 * lh;
                w.text((LEFT + kw + PAD, vw), y, BODY, l, Align::Left, false);
            }
            w.hline(LEFT, RIGHT, top, GRID);
            w.hline(LEFT, RIGHT, top + h, GRID);
            w.vline(LEFT, top, top + h);
            w.vline(LEFT + kw, top, top + h);
            w.vline(RIGHT, top, top + h);
            w.y += h;
            lines = rest;
        }
    }
    w.y += 10.0;
}

/// The pages of one slip, footers included.
fn layout_slip(s: &Slip) -> Vec<Vec<Op>> {
    let mut w = Writer::new();
    heading(&mut w, s);
    items(&mut w, s);
    totals(&mut w, s);
    message(&mut w, s);
    let n = w.pages.len();
    let label = format!("{}　注文番号 {}", s.title, s.number);
    for (i, page) in w.pages.iter_mut().enumerate() {
        let mut f = Writer {
            pages: vec![std::mem::take(page)],
            y: 0.0,
        };
        f.hline(LEFT, RIGHT, FOOTER_Y - 12.0, 0.3);
        f.text(
            (LEFT, RIGHT - LEFT),
            FOOTER_Y,
            SMALL,
            &label,
            Align::Left,
            false,
        );
        f.text(
            (LEFT, RIGHT - LEFT),
            FOOTER_Y,
            SMALL,
            &format!("{} / {n}", i + 1),
            Align::Center,
            false,
        );
        *page = f.pages.pop().unwrap_or_default();
    }
    w.pages
}

fn layout(slips: &[Slip]) -> Vec<Vec<Op>> {
    slips.iter().flat_map(layout_slip).collect()
}

/// Pages the PDF of `slips` has.
#[cfg(test)]
pub(super) fn page_count(slips: &[Slip]) -> usize {
    layout(slips).len()
}

/// Every line and every text baseline of `slips` lies within the page's content area
/// (the footer below `BOTTOM` aside).
#[cfg(test)]
pub(super) fn inside_margins(slips: &[Slip]) -> bool {
    layout(slips).iter().flatten().all(|op| match op {
        Op::Text { y, text, .. } => *y <= BOTTOM || *y == FOOTER_Y || text.is_empty(),
        Op::Line { y1, y2, .. } => {
            (*y1 <= BOTTOM && *y2 <= BOTTOM) || (*y1 == FOOTER_Y - 12.0 && *y2 == *y1)
        }
        Op::Shade { y, h, .. } | Op::Frame { y, h, .. } => y + h <= BOTTOM,
    })
}

fn black_fill() -> Fill {
    Fill {
        paint: luma::Color::black().into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn line_stroke(width: f32) -> Stroke {
    Stroke {
        paint: luma::Color::new(60).into(),
        width,
        ..Stroke::default()
    }
}

fn draw(pages: &[Vec<Op>], title: String) -> Result<Vec<u8>, AppError> {
    let font = FONT.clone().context("bundled font does not load")?;
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).context("page size")?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(title)
            .creator("juchu".into())
            .language("ja".into()),
    );
    for ops in pages {
        let mut page = doc.start_page_with(settings.clone());
        let mut sf = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    text,
                    bold,
                } => {
                    sf.set_fill(Some(black_fill()));
                    // IPAexゴシック has no bold face: a thin outline on the glyphs stands in.
                    sf.set_stroke(bold.then(|| Stroke {
                        paint: luma::Color::black().into(),
                        width: size * 0.04,
                        ..Stroke::default()
                    }));
                    sf.draw_text(
                        Point::from_xy(*x, *y),
                        font.clone(),
                        *size,
                        text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y1);
                    pb.line_to(*x2, *y2);
                    if let Some(path) = pb.finish() {
                        sf.set_fill(None);
                        sf.set_stroke(Some(line_stroke(*width)));
                        sf.draw_path(&path);
                    }
                }
                Op::Shade { x, y, w, h, gray } => {
                    let mut pb = PathBuilder::new();
                    if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                        pb.push_rect(r);
                    }
                    if let Some(path) = pb.finish() {
                        sf.set_stroke(None);
                        sf.set_fill(Some(Fill {
                            paint: luma::Color::new(*gray).into(),
                            ..black_fill()
                        }));
                        sf.draw_path(&path);
                    }
                }
                Op::Frame { x, y, w, h } => {
                    let mut pb = PathBuilder::new();
                    if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                        pb.push_rect(r);
                    }
                    if let Some(path) = pb.finish() {
                        sf.set_fill(None);
                        sf.set_stroke(Some(line_stroke(GRID)));
                        sf.draw_path(&path);
                    }
                }
            }
        }
        sf.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("PDF: {e:?}")))
}

/// The PDF of `slips`: each slip from a new page, in the order given.
pub fn render(slips: &[Slip]) -> Result<Vec<u8>, AppError> {
    let title = match slips {
        [one] => format!("{} 注文番号 {}", one.title, one.number),
        [first, ..] => format!("{}（{}件）", first.title, slips.len()),
        [] => "帳票".to_owned(),
    };
    draw(&layout(slips), title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_lines_in_the_cell_and_marks_off_line_starts() {
        let name =
            "国産ひのきの木製まな板 特大サイズ 厚さ3cm 抗菌加工・食洗機対応モデル（ナチュラル）。";
        for max in [60.0, 90.0, 120.0, 180.0, 240.0] {
            let lines = wrap(name, BODY, max);
            assert_eq!(lines.concat(), name, "nothing lost at {max}");
            for l in &lines {
                // A carried character may push a line past the width by at most one glyph.
                assert!(width(l, BODY) <= max + BODY, "{l:?} at {max}");
                let first = l.chars().next().unwrap();
                assert!(
                    !NO_LINE_START.contains(first),
                    "{l:?} begins a line at {max}"
                );
            }
        }
        assert_eq!(wrap("一行目\n二行目", BODY, 500.0), ["一行目", "二行目"]);
        // Digits are narrower than kana: the font's widths are used, not a guess.
        assert!(width("1234", 10.0) < width("あいうえ", 10.0));
    }
}
