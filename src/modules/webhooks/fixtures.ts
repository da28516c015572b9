/**
 * The constructed examples of docs/spec/external-apis.md §4.4 (RevenueCat) and §5.2 (Superwall),
 * byte for byte, and the published Svix test vector of §5.1.
 */

export const RC_TRIAL_START = `{"api_version":"1.0","event":{
 "id":"7E2B1C4A-9F0D-4E8B-A1C2-3D4E5F607182","type":"INITIAL_PURCHASE",
 "app_id":"app1a2b3c4d5","event_timestamp_ms":1763890930500,
 "app_user_id":"$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0",
 "original_app_user_id":"$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0",
 "aliases":["$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0"],
 "product_id":"fittrack_pro_annual","entitlement_ids":["pro"],"entitlement_id":null,
 "period_type":"TRIAL","purchased_at_ms":1763890927000,"expiration_at_ms":1764495727000,
 "store":"APP_STORE","environment":"PRODUCTION","presented_offering_id":"default",
 "price":0,"currency":"USD","price_in_purchased_currency":0,
 "tax_percentage":0,"commission_percentage":0.15,"takehome_percentage":0.85,
 "transaction_id":"2000000812345678","original_transaction_id":"2000000812345678",
 "is_family_share":false,"country_code":"US","offer_code":null,"renewal_number":1,
 "subscriber_attributes":{
   "appreferId":{"value":"b3f1c2a4-5d6e-4f70-8a91-b2c3d4e5f607","updated_at_ms":1763890901000},
   "$idfv":{"value":"9A8B7C6D-5E4F-4A3B-9C2D-1E0F9A8B7C6D","updated_at_ms":1763890901000}},
 "experiments":[]}}`;

export const RC_TRIAL_CONVERTED = `{"api_version":"1.0","event":{
 "id":"C0FFEE11-2233-4455-6677-8899AABBCCDD","type":"RENEWAL",
 "app_id":"app1a2b3c4d5","event_timestamp_ms":1764495731200,
 "app_user_id":"user_8812","original_app_user_id":"$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0",
 "aliases":["$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0","user_8812"],
 "product_id":"fittrack_pro_annual","entitlement_ids":["pro"],"entitlement_id":null,
 "period_type":"NORMAL","purchased_at_ms":1764495727000,"expiration_at_ms":1796031727000,
 "store":"APP_STORE","environment":"PRODUCTION","presented_offering_id":"default",
 "is_trial_conversion":true,"price":59.99,"currency":"EUR","price_in_purchased_currency":54.99,
 "tax_percentage":0.1597,"commission_percentage":0.15,"takehome_percentage":0.85,
 "transaction_id":"2000000823456789","original_transaction_id":"2000000812345678",
 "is_family_share":false,"country_code":"DE","offer_code":null,"renewal_number":2,
 "subscriber_attributes":{
   "appreferId":{"value":"b3f1c2a4-5d6e-4f70-8a91-b2c3d4e5f607","updated_at_ms":1763890901000}},
 "experiments":[]}}`;

export const RC_TRIAL_CANCELLED = `{"api_version":"1.0","event":{
 "id":"5A5A5A5A-1B1B-4C2C-8D3D-4E4E4E4E4E4E","type":"CANCELLATION",
 "app_id":"app1a2b3c4d5","event_timestamp_ms":1763895000000,
 "app_user_id":"$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0",
 "original_app_user_id":"$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0",
 "aliases":["$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0"],
 "product_id":"fittrack_pro_annual","entitlement_ids":["pro"],"entitlement_id":null,
 "period_type":"TRIAL","purchased_at_ms":1763890927000,"expiration_at_ms":1764495727000,
 "store":"APP_STORE","environment":"PRODUCTION","presented_offering_id":"default",
 "cancel_reason":"UNSUBSCRIBE","price":0,"currency":"USD","price_in_purchased_currency":0,
 "tax_percentage":0,"commission_percentage":0.15,"takehome_percentage":0.85,
 "transaction_id":"2000000812345678","original_transaction_id":"2000000812345678",
 "is_family_share":false,"country_code":"US","offer_code":null,
 "subscriber_attributes":{
   "appreferId":{"value":"b3f1c2a4-5d6e-4f70-8a91-b2c3d4e5f607","updated_at_ms":1763890901000}},
 "experiments":[]}}`;

export const SW_TRIAL_START = `{"object":"event","type":"initial_purchase","projectId":3827,"applicationId":1,"timestamp":1763890935103,
 "data":{"id":"0b9e2f4c-7a31-4d52-9b8e-1c2d3e4f5a6b:initial_purchase","name":"initial_purchase",
  "cancelReason":null,"exchangeRate":1.0,"isSmallBusiness":true,"periodType":"TRIAL",
  "countryCode":"US","price":0,"proceeds":0,"priceInPurchasedCurrency":0,"taxPercentage":0,
  "commissionPercentage":0.15,"takehomePercentage":0.85,"offerCode":null,"isFamilyShare":false,
  "expirationAt":1764495727000,"transactionId":"2000000812345678",
  "originalTransactionId":"2000000812345678",
  "originalAppUserId":"$SuperwallAlias:7152E89E-60A6-4B2E-9C67-D7ED8F5BE372",
  "store":"APP_STORE","purchasedAt":1763890927000,"currencyCode":"USD",
  "productId":"fittrack_pro_annual","environment":"PRODUCTION","isTrialConversion":false,
  "newProductId":null,"bundleId":"com.example.fittrack","ts":1763890930106,
  "userAttributes":{"appreferId":"b3f1c2a4-5d6e-4f70-8a91-b2c3d4e5f607"}}}`;

/** §5.1: this secret, id, timestamp and body give this signature. */
export const SVIX_VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: '1614265330',
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
