/* A Kafka cluster for tests: librdkafka's built-in mock cluster (Confluent's implementation of
 * the Kafka protocol), 3 brokers. Usage: kafka-mock topic:partitions ...
 * Prints the bootstrap servers as the first stdout line, then runs until SIGTERM/SIGINT (or until
 * its parent dies). Build: gcc -O2 -o kafka-mock kafka-mock.c -lrdkafka -lpthread */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

int main(int argc, char **argv) {
  char errstr[512];
  sigset_t set;
  int sig, i;
  /* Block the signals before librdkafka starts its threads, so only sigwait() receives them. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test process */

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) { fprintf(stderr, "rd_kafka_new: %s\n", errstr); return 1; }
  rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, 3);
  if (!mcluster) { fprintf(stderr, "rd_kafka_mock_cluster_new failed\n"); return 1; }

  for (i = 1; i < argc; i++) {
    char *sep = strrchr(argv[i], ':');
    int partitions = sep ? atoi(sep + 1) : 0;
    if (!sep || partitions <= 0) { fprintf(stderr, "bad argument '%s' (want topic:partitions)\n", argv[i]); return 2; }
    *sep = '\0';
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, argv[i], partitions, 3);
    if (err) { fprintf(stderr, "topic %s: %s\n", argv[i], rd_kafka_err2str(err)); return 1; }
  }

  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
  fflush(stdout);
  sigwait(&set, &sig);

  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return 0;
}
