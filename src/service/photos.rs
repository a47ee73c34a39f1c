//! Merchant photo use cases: adding one (validated by content, re-encoded without metadata,
//! stored with a thumbnail), removing one, and the public bytes the scan page shows.

use std::future::Future;

use diesel_async::AsyncConnection;

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::audit::Actor;
use crate::db::merchants::NewPhoto;
use crate::domain::merchant::PhotoKind;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::photos::{self, PhotoError};
use crate::service::merchants::{region_of, PhotoView};
use crate::state::AppState;

/// Photos decoded at once: each may hold up to `photos::MAX_ALLOC` of pixels, so a burst of
/// uploads queues here instead of exhausting memory.
pub(crate) static DECODE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// An uploaded photo as given: its `kind` (`storefront` when omitted) and its bytes (`None`:
/// no file was attached).
#[derive(Debug, Default)]
pub struct PhotoInput {
    pub kind: Option<String>,
    pub file: Option<Vec<u8>>,
}

fn is_public_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Adds a storefront or interior photo to merchant `merchant_id` (its regulators and the
/// merchant itself; at most `PHOTOS_KEPT`, 409 `too_many_photos`). The decision and the count
/// come first: `upload` (reading the request body) is awaited only after them. Decoded off the
/// async workers, stored with its audit entry in one transaction, the pages invalidated after.
pub async fn upload(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    upload: impl Future<Output = AppResult<PhotoInput>>,
) -> AppResult<PhotoView> {
    let merchant = {
        let mut conn = state.pool.get().await?;
        let m = db::merchants::get(&mut conn, merchant_id)
            .await?
            .ok_or(AppError::NotFound)?;
        policy::add_photo(user, m.id, &region_of(&m.fields.region_code)?).check()?;
        if db::merchants::photo_count(&mut conn, m.id).await? >= db::merchants::PHOTOS_KEPT {
            return Err(AppError::Conflict {
                code: "too_many_photos",
                detail: format!(
                    "a shop keeps at most {} photos: remove one before adding another",
                    db::merchants::PHOTOS_KEPT
                ),
            });
        }
        m
    };
    let input = upload.await?;
    let kind = match &input.kind {
        Some(v) => PhotoKind::parse_field(v, "kind").map_err(AppError::validation)?,
        None => PhotoKind::Storefront,
    };
    let Some(bytes) = input.file else {
        return Err(AppError::validation(FieldError::new(
            "file",
            "required",
            "attach the photo as the part `file`",
        )));
    };
    let _slot = DECODE_SLOTS
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("photo semaphore closed: {e}"))?;
    let processed = tokio::task::spawn_blocking(move || photos::process(&bytes))
        .await
        .map_err(|e| anyhow::anyhow!("photo worker failed: {e}"))?
        .map_err(|e| match e {
            PhotoError::UnsupportedFormat => AppError::UnsupportedMediaType {
                detail: "the file is not a JPEG, PNG or WebP image (checked by its content)".into(),
            },
            PhotoError::TooLarge => {
                AppError::validation(FieldError::new("file", "image_too_large", e.to_string()))
            }
            PhotoError::Corrupt(_) => {
                AppError::validation(FieldError::new("file", "invalid_image", e.to_string()))
            }
        })?;
    let new = NewPhoto {
        public_id: db::merchants::new_photo_public_id(),
        merchant_id: merchant.id,
        kind: kind.as_str().to_owned(),
        width: processed.width as i32,
        height: processed.height as i32,
        display: processed.display,
        thumb_width: processed.thumb_width as i32,
        thumb_height: processed.thumb_height as i32,
        thumb: processed.thumb,
        created_by: Some(user.id),
    };
    let mut conn = state.pool.get().await?;
    let meta = conn
        .transaction::<_, AppError, _>(async |conn| {
            let meta = db::merchants::insert_photo(conn, &new).await?;
            let audit = serde_json::json!({
                "id": meta.id, "public_id": meta.public_id, "merchant_id": meta.merchant_id, "kind": meta.kind,
                "width": meta.width, "height": meta.height,
                "display_bytes": new.display.len(), "thumb_bytes": new.thumb.len(),
            });
            db::audit::record(
                conn,
                &actor,
                "photo.create",
                "photo",
                &meta.id.to_string(),
                None::<&()>,
                Some(&audit),
            )
            .await?;
            Ok(meta)
        })
        .await?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[merchant.id])
        .await;
    Ok(PhotoView::from(meta))
}

/// Removes a photo (the merchant itself, or its regulators): its bytes are deleted, the audit
/// log keeps what it was; the shop's pages are invalidated after commit.
pub async fn delete(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    photo_id: &str,
) -> AppResult<()> {
    let mut conn = state.pool.get().await?;
    let merchant = db::merchants::get(&mut conn, merchant_id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::add_photo(user, merchant.id, &region_of(&merchant.fields.region_code)?).check()?;
    if !is_public_id(photo_id) {
        return Err(AppError::NotFound);
    }
    conn.transaction::<_, AppError, _>(async |conn| {
        let meta = db::merchants::photo_of(conn, merchant_id, photo_id)
            .await?
            .ok_or(AppError::NotFound)?;
        db::merchants::delete_photo(conn, meta.id).await?;
        db::audit::record(
            conn,
            &actor,
            "photo.delete",
            "photo",
            &meta.id.to_string(),
            Some(&meta),
            None::<&()>,
        )
        .await?;
        Ok(())
    })
    .await?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[merchant_id])
        .await;
    Ok(())
}

/// A public photo's bytes (display size, or the thumbnail when `small`); 404 for an id that is
/// not one, a removed photo, or an interior photo of a shop without an active code.
pub async fn public_bytes(state: &AppState, id: &str, small: bool) -> AppResult<Vec<u8>> {
    if !is_public_id(id) {
        return Err(AppError::NotFound);
    }
    let mut conn = state.pool.get().await?;
    db::merchants::public_photo_bytes(&mut conn, id, small)
        .await?
        .ok_or(AppError::NotFound)
}
