// The log on Kafka (kafkajs 2.2.4), for the distributed deployment: the producer
// (./kafka-producer.ts), the supervised consumer (./kafka-consumer.ts) and the admin
// (./kafka-admin.ts), which share ./kafka-client.ts. Imported from here.
export type { KafkaLogOptions } from './kafka-client.ts';
export { KafkaLogProducer } from './kafka-producer.ts';
export { KafkaLogConsumer } from './kafka-consumer.ts';
export { KafkaLogAdmin } from './kafka-admin.ts';
