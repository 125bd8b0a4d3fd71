//! What a gateway's answer comes to, before it is settled: a payment made, an operation
//! done (maybe under a new ref), half done, refused, or not known yet.

use super::*;

/// A payment the gateway made, with what juchu keeps of it.
#[derive(Clone)]
pub(super) struct Created {
    pub payment: PaymentRef,
    pub status: GatewayStatus,
    pub mode: CaptureMode,
    pub kind: Kind,
    pub installments: String,
    pub masked: String,
    /// Paid later: what the buyer needs to pay.
    pub slip: Option<juchu_gateway::PaymentSlip>,
    /// Authorized after a passed 3-D Secure authentication.
    pub three_ds: bool,
    /// The merchant account the gateway made it under (`Gateway::merchant`).
    pub merchant: String,
}

/// What one operation came to.
#[derive(Clone)]
pub(super) enum Verdict {
    /// A payment was created (authorize, a payment number).
    Created(Created),
    /// The operation took effect; `status` is what the gateway holds for `now_ref` (the
    /// payment's ref after it). `replaced` is the ref it had before, when it changed.
    Done {
        status: GatewayStatus,
        new_ref: Option<(PaymentRef, Replaced)>,
        message: String,
        /// Earlier refs (`payment_refs` rows) cancelled at the gateway by this operation.
        previous_cancelled: Vec<i64>,
    },
    /// Step one of a two-step change done (new authorization), step two (cancel the old one)
    /// not: the operator must finish it. `new_ref`: what the payment holds after step one.
    Partial {
        status: GatewayStatus,
        new_ref: Option<PaymentRef>,
        code: String,
        message: String,
        previous_cancelled: Vec<i64>,
    },
    /// The gateway refused or never got it; nothing happened there. `status`: what it holds,
    /// when known.
    Failed {
        code: String,
        message: String,
        status: Option<GatewayStatus>,
    },
    /// Nobody knows yet: the recovery job will ask the gateway.
    Unknown { reason: String },
}

impl Verdict {
    pub(super) fn from_error(e: GatewayError) -> Verdict {
        match e {
            GatewayError::Refused {
                code,
                detail,
                message,
                ..
            } => Verdict::Failed {
                // GMO's ErrInfo carries its ErrCode (E01 → E01420010); Paygent's code is the
                // number (2007) and its detail words.
                code: if detail.starts_with(&code) {
                    detail
                } else {
                    code
                },
                message,
                status: None,
            },
            // An answer that is not the protocol may still have been processed.
            GatewayError::Unknown { .. } | GatewayError::Protocol(_) => Verdict::Unknown {
                reason: e.to_string(),
            },
            GatewayError::NotSent { .. }
            | GatewayError::Config(_)
            | GatewayError::Unsupported(_) => Verdict::Failed {
                code: String::new(),
                message: e.to_string(),
                status: None,
            },
        }
    }
}

/// A capture the gateway refused because the authorization's period is over: the payment
/// is 期限切れ from now on, whatever status the gateway still shows for it (`now`: what it
/// answered when asked just after).
pub(super) fn lapsed(e: GatewayError, now: Option<GatewayStatus>, held: &Held) -> Verdict {
    let mut st = now.unwrap_or_else(|| GatewayStatus {
        state: held.state,
        gateway_status: held.gateway_status.clone(),
        amount: held.amount,
        captured: held.captured,
        refunded: held.refunded,
        expires_at: None,
        reference: None,
    });
    if st.state == PaymentState::Authorized {
        st.state = PaymentState::Expired;
    }
    match Verdict::from_error(e) {
        Verdict::Failed { code, message, .. } => Verdict::Failed {
            code,
            message,
            status: Some(st),
        },
        v => v,
    }
}

pub(super) fn done(r: Result<GatewayStatus, GatewayError>) -> Verdict {
    match r {
        Ok(status) => Verdict::Done {
            status,
            new_ref: None,
            message: String::new(),
            previous_cancelled: vec![],
        },
        Err(e) => Verdict::from_error(e),
    }
}

pub(super) fn changed(
    old: &PaymentRef,
    new: PaymentRef,
    st: GatewayStatus,
    how: Replaced,
) -> Verdict {
    let new_ref = (new != *old).then_some((new, how));
    Verdict::Done {
        status: st,
        new_ref,
        message: String::new(),
        previous_cancelled: vec![],
    }
}
