//! RabbitMQ: the only module that knows lapin.
//!
//! Topology (every name starts with the configured prefix `<p>`):
//! - `<p>.documents`: durable quorum queue of jobs, with `x-delivery-limit` and the dead-letter
//!   exchange `<p>.dlx` (at-least-once dead-lettering, so a dead-lettered message is not lost).
//! - `<p>.retry.<n>` (n = 1…): quorum queues without consumers whose messages expire after the
//!   n-th configured delay and are dead-lettered back into `<p>.documents`: a retry with a
//!   growing delay.
//! - `<p>.dlx`: fanout exchange into `<p>.dead` (the dead-letter queue operators read; nothing
//!   consumes it) and `<p>.dead.events` (the workers consume it to mark the document `failed`).
//!
//! Every publish waits for the broker's confirm; messages are persistent.

use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the broker did not answer within {0:?}")]
    TimedOut(Duration),
}

pub type Result<T> = std::result::Result<T, QueueError>;

/// Header counting how many times a job went through a retry queue.
const RETRIES_HEADER: &str = "x-liasse-retries";

/// Queue and exchange names derived from the prefix.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names { prefix: prefix.to_string() }
    }
    pub fn documents(&self) -> String {
        format!("{}.documents", self.prefix)
    }
    pub fn retry(&self, level: usize) -> String {
        format!("{}.retry.{}", self.prefix, level + 1)
    }
    pub fn dlx(&self) -> String {
        format!("{}.dlx", self.prefix)
    }
    pub fn dead(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn dead_events(&self) -> String {
        format!("{}.dead.events", self.prefix)
    }
}

/// What the topology is made of.
#[derive(Debug, Clone)]
pub struct Topology {
    pub names: Names,
    pub delivery_limit: u32,
    pub retry_delays: Vec<Duration>,
}

/// A connection with a confirming publisher channel, the topology declared.
pub struct Broker {
    conn: Connection,
    publisher: Channel,
    topology: Topology,
}

/// Message counts of the queues (for metrics and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Depths {
    pub documents: u32,
    pub retry: u32,
    pub dead: u32,
}

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

fn quorum_args(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

impl Broker {
    /// Connect and declare the topology (idempotent: the same arguments every time).
    pub async fn connect(url: &str, topology: Topology) -> Result<Broker> {
        let conn = Connection::connect(url, ConnectionProperties::default()).await?;
        let publisher = conn.create_channel().await?;
        publisher.confirm_select(ConfirmSelectOptions::default()).await?;
        let b = Broker { conn, publisher, topology };
        b.declare().await?;
        Ok(b)
    }

    async fn declare(&self) -> Result<()> {
        let ch = &self.publisher;
        let n = &self.topology.names;
        let durable = QueueDeclareOptions::durable();
        ch.exchange_declare(
            n.dlx().as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions { durable: true, ..Default::default() },
            FieldTable::default(),
        )
        .await?;
        let safe_dlx =
            [("x-dead-letter-strategy", text("at-least-once")), ("x-overflow", text("reject-publish"))];
        let mut main = safe_dlx.to_vec();
        main.push(("x-dead-letter-exchange", text(&n.dlx())));
        main.push(("x-delivery-limit", AMQPValue::LongLongInt(self.topology.delivery_limit as i64)));
        ch.queue_declare(n.documents().as_str().into(), durable, quorum_args(&main)).await?;
        for (level, delay) in self.topology.retry_delays.iter().enumerate() {
            let mut args = safe_dlx.to_vec();
            args.push(("x-dead-letter-exchange", text("")));
            args.push(("x-dead-letter-routing-key", text(&n.documents())));
            args.push(("x-message-ttl", AMQPValue::LongLongInt(delay.as_millis() as i64)));
            ch.queue_declare(n.retry(level).as_str().into(), durable, quorum_args(&args)).await?;
        }
        for q in [n.dead(), n.dead_events()] {
            ch.queue_declare(q.as_str().into(), durable, quorum_args(&[])).await?;
            ch.queue_bind(
                q.as_str().into(),
                n.dlx().as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        Ok(())
    }

    pub fn names(&self) -> &Names {
        &self.topology.names
    }

    pub fn retry_levels(&self) -> usize {
        self.topology.retry_delays.len()
    }

    pub fn is_connected(&self) -> bool {
        self.conn.status().connected()
    }

    async fn publish(&self, exchange: &str, routing_key: &str, body: &[u8], retries: u32) -> Result<()> {
        let mut headers = FieldTable::default();
        headers.insert(RETRIES_HEADER.into(), AMQPValue::LongUInt(retries));
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_headers(headers);
        let confirm = self
            .publisher
            .basic_publish(exchange.into(), routing_key.into(), BasicPublishOptions::default(), body, props)
            .await?;
        let confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
            .await
            .map_err(|_| QueueError::TimedOut(CONFIRM_TIMEOUT))??;
        if confirmation.is_ack() { Ok(()) } else { Err(QueueError::Nacked) }
    }

    /// Publish a job and wait for the broker's confirm.
    pub async fn publish_job(&self, body: &[u8]) -> Result<()> {
        self.publish("", &self.topology.names.documents(), body, 0).await
    }

    /// Publish a job into the retry queue of its number of retries so far (the last queue for
    /// any later retry), and wait for the confirm. Returns the delay.
    pub async fn publish_retry(&self, body: &[u8], retries_so_far: u32) -> Result<Duration> {
        let levels = self.topology.retry_delays.len();
        if levels == 0 {
            self.publish("", &self.topology.names.documents(), body, retries_so_far + 1).await?;
            return Ok(Duration::ZERO);
        }
        let level = (retries_so_far as usize).min(levels - 1);
        self.publish("", &self.topology.names.retry(level), body, retries_so_far + 1).await?;
        Ok(self.topology.retry_delays[level])
    }

    /// A consumer of the job queue on a channel of its own, with this prefetch.
    pub async fn consume_jobs(&self, prefetch: u16, tag: &str) -> Result<Deliveries> {
        self.consumer(&self.topology.names.documents(), prefetch, tag).await
    }

    /// A consumer of the dead-letter events queue.
    pub async fn consume_dead_events(&self, prefetch: u16, tag: &str) -> Result<Deliveries> {
        self.consumer(&self.topology.names.dead_events(), prefetch, tag).await
    }

    async fn consumer(&self, queue: &str, prefetch: u16, tag: &str) -> Result<Deliveries> {
        let channel = self.conn.create_channel().await?;
        channel.basic_qos(prefetch.max(1), BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(queue.into(), tag.into(), BasicConsumeOptions::default(), FieldTable::default())
            .await?;
        Ok(Deliveries { channel, consumer, tag: tag.to_string() })
    }

    /// Message counts of the job, retry and dead-letter queues.
    pub async fn depths(&self) -> Result<Depths> {
        let n = &self.topology.names;
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let count = |q: String| {
            let ch = self.publisher.clone();
            async move {
                ch.queue_declare(q.as_str().into(), passive, FieldTable::default())
                    .await
                    .map(|q| q.message_count())
            }
        };
        let mut d = Depths { documents: count(n.documents()).await?, dead: count(n.dead()).await?, retry: 0 };
        for level in 0..self.topology.retry_delays.len() {
            d.retry += count(n.retry(level)).await?;
        }
        Ok(d)
    }

    /// Delete every queue and the exchange of the topology (tests, and tearing down a prefix).
    pub async fn delete_topology(&self) -> Result<()> {
        let n = &self.topology.names;
        let mut queues = vec![n.documents(), n.dead(), n.dead_events()];
        queues.extend((0..self.topology.retry_delays.len()).map(|l| n.retry(l)));
        for q in queues {
            self.publisher.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await?;
        }
        self.publisher.exchange_delete(n.dlx().as_str().into(), Default::default()).await?;
        Ok(())
    }

    pub async fn close(&self) {
        let _ = self.conn.close(200, "bye".into()).await;
    }
}

/// The deliveries of one consumer.
pub struct Deliveries {
    channel: Channel,
    consumer: lapin::Consumer,
    tag: String,
}

impl Deliveries {
    /// The next delivery; `None` when the consumer was cancelled or the connection is gone
    /// (an error is logged by the caller through `Err`).
    pub async fn next(&mut self) -> Option<Result<Message>> {
        let d = self.consumer.next().await?;
        Some(d.map_err(QueueError::from).map(Message::from_delivery))
    }

    /// Stop receiving (in-flight deliveries can still be acknowledged).
    pub async fn cancel(&self) -> Result<()> {
        self.channel.basic_cancel(self.tag.as_str().into(), Default::default()).await?;
        Ok(())
    }

    pub async fn close(&self) {
        let _ = self.channel.close(200, "bye".into()).await;
    }
}

/// One delivery.
pub struct Message {
    pub body: Vec<u8>,
    /// Times the job went through a retry queue.
    pub retries: u32,
    /// Times the broker delivered this message before (quorum `x-delivery-count`).
    pub delivery_count: u32,
    /// Why the broker dead-lettered the message (for `<p>.dead.events`): `delivery_limit`,
    /// `rejected` (by a worker, which recorded its reason in the database first), `expired`.
    pub death_reason: Option<String>,
    acker: lapin::Acker,
}

fn header_u32(h: &FieldTable, k: &str) -> Option<u32> {
    match h.inner().get(k)? {
        AMQPValue::LongUInt(v) => Some(*v),
        AMQPValue::LongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::LongLongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::ShortUInt(v) => Some(*v as u32),
        AMQPValue::ShortInt(v) => u32::try_from(*v).ok(),
        _ => None,
    }
}

fn header_text(h: &FieldTable, k: &str) -> Option<String> {
    match h.inner().get(k)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

impl Message {
    fn from_delivery(d: lapin::message::Delivery) -> Message {
        let (retries, delivery_count, death_reason) = match d.properties.headers() {
            Some(h) => (
                header_u32(h, RETRIES_HEADER).unwrap_or(0),
                header_u32(h, "x-delivery-count").unwrap_or(0),
                header_text(h, "x-first-death-reason"),
            ),
            None => (0, 0, None),
        };
        Message { body: d.data, retries, delivery_count, death_reason, acker: d.acker }
    }

    pub async fn ack(&self) -> Result<()> {
        self.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// Give the message back to the queue (counts as a delivery towards the limit).
    pub async fn requeue(&self) -> Result<()> {
        self.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
        Ok(())
    }

    /// Dead-letter the message (into `<p>.dead` and `<p>.dead.events`).
    pub async fn dead_letter(&self) -> Result<()> {
        self.acker.reject(BasicRejectOptions { requeue: false }).await?;
        Ok(())
    }
}
