// The console's words in English and Japanese, the language choice (?lang=, then the cookie, then
// Accept-Language: Japanese when the browser asks for ja first), and dates in console.timeZone.
export type Lang = 'en' | 'ja';

const en = {
  title: 'zaiko-bridge console', overview: 'Overview', mail: 'Mail', uploads: 'Uploads', stock: 'Stock', queues: 'Queues', check: 'Mail check',
  logout: 'Log out', login: 'Log in', name: 'Name', password: 'Password', loginFailed: 'Wrong name or password.',
  lockedOut: 'Too many failed logins: try again later.', signedInAs: 'Signed in as',
  today: 'Today', last7: 'Last 7 days', orderMails: 'Order mails received', forwarded: 'Forwarded to zaiko Robot',
  suppressed: 'Suppressed (second copy)', failed: 'Failed', uploadsReceived: 'Uploads received', itemsApplied: 'Items applied',
  itemsSkipped: 'Items skipped', skippedByReason: 'Skipped items by reason (7 days)', readiness: 'Readiness', ready: 'ready', down: 'down',
  redis: 'Redis', ledgerDb: 'Mail database (ledger.db)', stockDb: 'Stock database (stock.db)', deliveryThread: 'Relay delivery (workers on the mail queue)',
  stockWorker: 'Stock worker (workers on the stock queue)', workersSeen: 'workers connected', perHour: 'Last 24 hours, per hour',
  mailsPerHour: 'mails', itemsPerHour: 'upload items', queueDepth: 'Queue depths',
  received: 'Received', from: 'From', to: 'To', subject: 'Subject', shop: 'Shop', orderNumber: 'Order number', forward: 'Forward', status: 'Status',
  filter: 'Filter', since: 'Since', any: 'any', prev: 'Newer', next: 'Older', page: 'Page', none: 'None.', noSuchPage: 'Not found.',
  envelope: 'Envelope', client: 'Client', helo: 'HELO', authUser: 'SMTP user', size: 'Size', messageId: 'Message-ID',
  classification: 'Shop and order', isOrder: 'Order mail', yes: 'yes', no: 'no', items: 'Items', code: 'Product code', quantity: 'Quantity',
  flags: 'Flags', forwardDecision: 'Forward decision', why: 'Why', deliveries: 'Deliveries', kind: 'Kind', recipient: 'Recipient',
  attempts: 'Attempts', response: 'Upstream answer', updated: 'Updated', nextAttempt: 'Next attempt', rawSource: 'Raw source',
  spoolGone: 'The spool file is removed (spool.keepDays); the raw source is gone.', download: 'Download', truncatedAt: 'shown up to',
  shopWhyNone: 'No configured shop recognised the sender (shops[].senders / authUsers).', shopWhy: 'The sender or SMTP user matches this shop.',
  flush: 'Retry deferred mail now', flushed: 'deferred job(s) scheduled now.', resendForward: 'Send to zaiko Robot again', resendDeliver: 'Deliver again',
  confirmResend: 'Send this order to zaiko Robot again?', confirmResendText: 'zaiko Robot will count the order again: its stock goes down a second time. Do this only when zaiko Robot did not get the order.',
  confirmDeliver: 'Deliver this message to its recipients again?', confirm: 'Yes, send it', cancel: 'Cancel', queuedAgain: 'queued again',
  upload: 'Upload', source: 'Source', origin: 'Origin', charset: 'Charset', applied: 'Applied', skipped: 'Skipped', outcome: 'Outcome', reason: 'Reason',
  value: 'Value sent', answer: 'The answer zaiko Robot got', answerPending: 'Not applied yet: zaiko Robot was answered OK and the upload is applied later.',
  moreLines: 'more lines', searchCode: 'Product code (exact, or the start of a code)', search: 'Search', products: 'Products', name_: 'Name',
  stockValue: 'Stock', unlimited: 'unlimited', notInCatalog: 'Codes zaiko Robot sent that are not in the catalog',
  notSynced: 'not synced', usesCodes: 'uses 在庫管理コード', lastUpload: 'Last upload', changes: 'Last changes', old: 'Old', new: 'New', at: 'At',
  skips: 'Skipped updates', unknownProduct: 'This code is not in the shop\'s catalog.', importCatalog: 'Import the catalog (CSV)', exportCatalog: 'Export the catalog (CSV)',
  file: 'File', encoding: 'Encoding', detect: 'detect', imported: 'products imported into shop', importFailed: 'Nothing imported',
  queue: 'Queue', waiting: 'waiting', active: 'active', delayed: 'delayed', completed: 'completed', paused: 'paused', oldestWaiting: 'oldest waiting',
  job: 'Job', state: 'State', created: 'Created', lastError: 'Last error', retry: 'Retry', remove: 'Remove', retryAll: 'Retry every failed job',
  retried: 'retried', removed: 'removed', actions: 'Actions', checkIntro: 'Paste a mail (or upload an .eml file) to see what the relay would do with it.',
  paste: 'Mail source', envelopeFrom: 'Envelope sender (default: the From header)', run: 'Check', verdict: 'Verdict', known: 'In the catalog',
  wouldForward: 'Would forward', forbidden: 'Forbidden: the form is out of date. Reload the page and try again.', tooLarge: 'Too large',
  error: 'Error', language: 'Language', back: 'Back',
} as const;
export type Key = keyof typeof en;

const ja: Record<Key, string> = {
  title: 'zaiko-bridge コンソール', overview: '概要', mail: 'メール', uploads: 'アップロード', stock: '在庫', queues: 'キュー', check: 'メール確認',
  logout: 'ログアウト', login: 'ログイン', name: 'ユーザー名', password: 'パスワード', loginFailed: 'ユーザー名またはパスワードが違います。',
  lockedOut: 'ログインの失敗が続いたため、しばらくログインできません。', signedInAs: 'ログイン中:',
  today: '今日', last7: '過去7日間', orderMails: '受信した注文メール', forwarded: 'zaiko Robot へ転送',
  suppressed: '転送しなかった重複', failed: '失敗', uploadsReceived: '受信したアップロード', itemsApplied: '反映した商品',
  itemsSkipped: '反映しなかった商品', skippedByReason: '反映しなかった商品の理由 (7日間)', readiness: '稼働状況', ready: '正常', down: '停止',
  redis: 'Redis', ledgerDb: 'メールDB (ledger.db)', stockDb: '在庫DB (stock.db)', deliveryThread: 'メール配送 (メールキューのワーカー)',
  stockWorker: '在庫反映ワーカー (在庫キューのワーカー)', workersSeen: 'ワーカー接続中', perHour: '過去24時間 (1時間ごと)',
  mailsPerHour: 'メール', itemsPerHour: 'アップロード商品', queueDepth: 'キューの件数',
  received: '受信日時', from: '送信者', to: '宛先', subject: '件名', shop: 'ショップ', orderNumber: '注文番号', forward: '転送', status: '状態',
  filter: '絞り込み', since: '以降', any: 'すべて', prev: '新しい方へ', next: '古い方へ', page: 'ページ', none: 'ありません。', noSuchPage: '見つかりません。',
  envelope: 'エンベロープ', client: '接続元', helo: 'HELO', authUser: 'SMTP ユーザー', size: 'サイズ', messageId: 'Message-ID',
  classification: 'ショップと注文', isOrder: '注文メール', yes: 'はい', no: 'いいえ', items: '商品', code: '商品コード', quantity: '数量',
  flags: 'フラグ', forwardDecision: '転送の判断', why: '理由', deliveries: '配送', kind: '種類', recipient: '宛先',
  attempts: '試行回数', response: '配送先サーバーの応答', updated: '更新', nextAttempt: '次の試行', rawSource: 'メールのソース',
  spoolGone: 'スプールファイルは削除済みです (spool.keepDays)。ソースはもうありません。', download: 'ダウンロード', truncatedAt: '表示は先頭',
  shopWhyNone: '送信者に一致するショップがありません (shops[].senders / authUsers)。', shopWhy: '送信者または SMTP ユーザーがこのショップに一致しました。',
  flush: '保留中のメールを今すぐ再送', flushed: '件の保留中ジョブを今すぐ実行します。', resendForward: 'zaiko Robot へもう一度送る', resendDeliver: 'もう一度配送する',
  confirmResend: 'この注文を zaiko Robot へもう一度送りますか?', confirmResendText: 'zaiko Robot はこの注文をもう一度数えます (在庫がもう一度減ります)。zaiko Robot が注文を受け取っていない場合だけ実行してください。',
  confirmDeliver: 'このメールを宛先へもう一度配送しますか?', confirm: 'はい、送ります', cancel: 'やめる', queuedAgain: '再送を登録しました',
  upload: 'アップロード', source: '経路', origin: '送信元', charset: '文字コード', applied: '反映', skipped: '反映せず', outcome: '結果', reason: '理由',
  value: '送られた値', answer: 'zaiko Robot への応答', answerPending: 'まだ反映されていません。zaiko Robot には OK と応答し、後で反映します。',
  moreLines: '行 (省略)', searchCode: '商品コード (完全一致、または先頭一致)', search: '検索', products: '商品', name_: '商品名',
  stockValue: '在庫数', unlimited: '無制限', notInCatalog: 'カタログにない商品コード (zaiko Robot から送られたもの)',
  notSynced: '連携しません', usesCodes: '在庫管理コードを使用', lastUpload: '最後のアップロード', changes: '最近の変更', old: '変更前', new: '変更後', at: '日時',
  skips: '反映しなかった更新', unknownProduct: 'このコードはショップのカタログにありません。', importCatalog: 'カタログの取り込み (CSV)', exportCatalog: 'カタログの書き出し (CSV)',
  file: 'ファイル', encoding: '文字コード', detect: '自動判定', imported: '件の商品を取り込みました。ショップ:', importFailed: '取り込みませんでした',
  queue: 'キュー', waiting: '待機', active: '実行中', delayed: '延期', completed: '完了', paused: '一時停止', oldestWaiting: '最も古い待機',
  job: 'ジョブ', state: '状態', created: '作成', lastError: '最後のエラー', retry: '再実行', remove: '削除', retryAll: '失敗したジョブをすべて再実行',
  retried: '再実行しました', removed: '削除しました', actions: '操作', checkIntro: 'メールを貼り付けるか .eml ファイルを選ぶと、リレーがどう扱うかを表示します。',
  paste: 'メールのソース', envelopeFrom: 'エンベロープ送信者 (省略時は From ヘッダー)', run: '確認する', verdict: '判定', known: 'カタログにある',
  wouldForward: '転送する', forbidden: 'フォームの有効期限が切れています。ページを再読み込みしてやり直してください。', tooLarge: '大きすぎます',
  error: 'エラー', language: '言語', back: '戻る',
};

/** Skip reasons in words a shop understands (the README's "why" section). */
const reasons: Record<Lang, Record<string, string>> = {
  en: {
    unknown_code: 'The cart has no product with exactly this code (full-width and ASCII characters differ).',
    unlimited_stock: 'The product\'s stock is set to unlimited (無制限) in the cart: it is never synced.',
    stock_management_code: 'The product uses per-variant stock codes (在庫管理コード): zaiko Robot cannot update those.',
    invalid_stock: 'zaiko Robot sent a value that is not a whole number from 0 to 2147483647.',
    stale: 'A newer upload already set this product\'s stock.',
    duplicate_in_upload: 'The same code came again later in this upload; the later value counts.',
  },
  ja: {
    unknown_code: 'カートにこのコードと完全に一致する商品がありません (全角と半角は別の文字です)。',
    unlimited_stock: 'カートで在庫が「無制限」の商品です。連携しません。',
    stock_management_code: '在庫管理コード (バリエーションごとの在庫) を使う商品です。zaiko Robot からは更新できません。',
    invalid_stock: 'zaiko Robot から送られた値が 0〜2147483647 の整数ではありません。',
    stale: 'より新しいアップロードで在庫が更新済みです。',
    duplicate_in_upload: '同じアップロードの後ろに同じコードがあり、後の値を使いました。',
  },
};

export interface Words { lang: Lang; t(key: Key): string; reason(code: string | null): string; date(ms: number | string | null | undefined): string }

export function words(lang: Lang, timeZone: string): Words {
  const dict = lang === 'ja' ? ja : en;
  const fmt = new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return {
    lang,
    t: (key) => dict[key],
    reason: (code) => (code ? reasons[lang][code] ?? code : ''),
    date: (v) => (v === null || v === undefined || v === '' ? '-' : fmt.format(typeof v === 'number' ? v : new Date(v))),
  };
}

/** ?lang= wins (and is remembered in a cookie), then the cookie, then Accept-Language's first choice. */
export function chooseLang(query: string | null, cookie: string | undefined, acceptLanguage: string | undefined): Lang {
  for (const v of [query, cookie]) if (v === 'ja' || v === 'en') return v;
  const first = (acceptLanguage ?? '').split(',').map((part) => {
    const [tag, ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean);
    return { tag: tag.toLowerCase(), q: q === undefined ? 1 : Number(q) };
  }).filter((x) => x.tag && x.q > 0).sort((a, b) => b.q - a.q)[0];
  return first && (first.tag === 'ja' || first.tag.startsWith('ja-')) ? 'ja' : 'en';
}
