<?php
// The cart's side of zaiko-bridge's webhook: stock changes pushed as Standard Webhooks 1.0 events.
// It checks the signature with the shared secret, refuses a timestamp more than 5 minutes away (a
// replayed request), and applies each change once, in id order, however often a batch comes again.
//
// Set it up beside the cart's zaikorobot.php (PHP 8): the secret from `zaiko-bridge config gen-secret`
// in ZB_WEBHOOK_SECRET (the same value as shops[].cart.webhook.secret), and replace apply_changes()
// with the cart's own stock update. Here a JSON file (CART_STOCK_FILE) stands in for the cart's table.
declare(strict_types=1);

const TOLERANCE_S = 300;            // Standard Webhooks: refuse timestamps further than this from now
const MAX_BODY_BYTES = 16 * 1048576; // zaiko-bridge sends at most batchMax (≤ 10,000) changes a request

function answer(int $status, string $text): never
{
    http_response_code($status);
    header('Content-Type: text/plain; charset=utf-8');
    echo $text, "\n";
    exit;
}

/** The HMAC key: the base64 after "whsec_". */
function secret_key(): string
{
    $secret = (string) getenv('ZB_WEBHOOK_SECRET');
    $key = str_starts_with($secret, 'whsec_') ? base64_decode(substr($secret, 6), true) : false;
    if ($key === false || strlen($key) < 24) answer(500, 'ZB_WEBHOOK_SECRET is not a whsec_ secret');
    return $key;
}

/** True when one of the space-separated "v1,<base64>" signatures is ours (compared in constant time). */
function signature_ok(string $key, string $id, string $timestamp, string $body, string $signatures): bool
{
    $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
    foreach (explode(' ', $signatures) as $signature) {
        [$version, $value] = array_pad(explode(',', $signature, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $value)) return true;
    }
    return false;
}

/**
 * Sets each product's stock to the change's value, skipping every change at or below the last id
 * applied (a batch sent again after a timeout or a restart). The real cart does the same in one
 * transaction: UPDATE products SET stock = :stock WHERE product_code = :code, and stores the last id.
 */
function apply_changes(string $shop, array $changes): int
{
    $file = getenv('CART_STOCK_FILE') ?: __DIR__ . '/cart-stock.json';
    $fh = fopen($file, 'c+');
    if ($fh === false || !flock($fh, LOCK_EX)) answer(503, 'stock file busy');
    $data = json_decode(stream_get_contents($fh) ?: '{}', true) ?: [];
    $last = (int) ($data['lastId'][$shop] ?? 0);
    $applied = 0;
    foreach ($changes as $c) {
        if (!is_int($c['id'] ?? null) || !is_string($c['code'] ?? null) || !is_int($c['stock'] ?? null)) answer(400, 'malformed change');
        if ($c['id'] <= $last) continue;
        $data['stock'][$c['code']] = $c['stock'];
        $last = $c['id'];
        $applied++;
    }
    $data['lastId'][$shop] = $last;
    ftruncate($fh, 0);
    rewind($fh);
    fwrite($fh, json_encode($data, JSON_UNESCAPED_UNICODE | JSON_PRETTY_PRINT | JSON_FORCE_OBJECT));
    fflush($fh);
    flock($fh, LOCK_UN);
    fclose($fh);
    return $applied;
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST') answer(405, 'POST only');
$key = secret_key();
$id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
$timestamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
$signatures = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';
if ($id === '' || !ctype_digit($timestamp) || $signatures === '') answer(400, 'webhook-id, webhook-timestamp and webhook-signature are required');
$body = file_get_contents('php://input', false, null, 0, MAX_BODY_BYTES + 1);
if ($body === false || strlen($body) > MAX_BODY_BYTES) answer(413, 'too large');
if (abs(time() - (int) $timestamp) > TOLERANCE_S) answer(400, 'timestamp more than 5 minutes away: refused as a replay');
if (!signature_ok($key, $id, $timestamp, $body, $signatures)) answer(401, 'bad signature');

$event = json_decode($body, true);
if (!is_array($event) || ($event['type'] ?? null) !== 'stock.changed' || !is_string($event['shop'] ?? null) || !is_array($event['changes'] ?? null)) {
    answer(400, 'not a stock.changed event');
}
answer(200, 'applied ' . apply_changes($event['shop'], $event['changes']));
