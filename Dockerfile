# The processor image used by docker-compose.yml. node-rdkafka builds librdkafka from source:
# zstd/lz4/ssl headers are needed or the build silently lacks those codecs.
# Node 20, the version the project is tested on (README). Only what runs is built and shipped:
# src and workers (tsconfig.build.json), production dependencies.
FROM node:20-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libzstd-dev liblz4-dev libssl-dev python3 g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build:prod && npm prune --omit=dev && mv dist-prod dist

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libzstd1 liblz4-1 libssl3 wget && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 9464
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
