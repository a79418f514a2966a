"""The Python contender: asyncio.gather over N subprocesses, a Semaphore(P) keeping P running.

    python3 asyncio_gather.py N P PROG [ARG...]
"""
import asyncio
import sys


async def main(total: int, parallel: int, argv: list[str]) -> None:
    limit = asyncio.Semaphore(parallel)

    async def one() -> int:
        async with limit:
            process = await asyncio.create_subprocess_exec(*argv)
            return await process.wait()

    statuses = await asyncio.gather(*(one() for _ in range(total)))
    if any(statuses):
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]))
